"""Base classes of question tasks: the machinery shared by every family.

A task turns one scene into *candidates* (phase 1: geometry, labels, object references; JSON
dicts written per scene) and a chosen candidate into a *record* (phase 2: wording from the
templates, answer format, option order). `recompute` re-derives the answer of a record from the
scene alone, which is what `qa4d audit` checks.

Three kinds cover the 4DP-QA types:
- DescriptiveTask: a canonical label (str, or a list of atoms) of a continuous measurement;
- CompareTask: which of several items (object, object at a time, object pair) has the
  smallest / largest value (depth, distance, path length);
- TrackTask: the 2D track of a query point in named target images (visual or true motion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from qa4d.engine import measure
from qa4d.engine.config import GenerateConfig
from qa4d.engine.references import frame_phrase, object_reference, phrase
from qa4d.engine.sampling import choose, distinct_tuples, media_indices, rng_for, segment_bounds

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Skip(Exception):
    """A scene (or segment) a task cannot use; the message is the counted reason."""


# ------------------------------------------------------------------------------ context


@dataclass
class SceneContext:
    """One scene being turned into candidates, with caches shared by all tasks."""

    scene: Any
    config: GenerateConfig
    thresholds: Any
    skips: dict[str, dict[str, int]] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.config.seed

    def rng(self, *parts: object) -> np.random.Generator:
        return rng_for(self.config.seed, self.scene.scene_id, *parts)

    def skip(self, task: str, reason: str, n: int = 1) -> None:
        d = self.skips.setdefault(task, {})
        d[reason] = d.get(reason, 0) + n

    def segments(self, task: str) -> list[tuple[int, int]]:
        return segment_bounds(
            self.scene.num_frames, self.config.segment_frames, self.config.segments_per_scene, self.rng(task, "segments")
        )

    def media(self, seg: tuple[int, int]) -> list[int]:
        return media_indices(seg[0], seg[1], self.config.media_frames)

    @staticmethod
    def dense(seg: tuple[int, int]) -> list[int]:
        return list(range(seg[0], seg[1]))

    def _cached(self, key: tuple, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def visible_ids(self, seg: tuple[int, int]) -> list[int]:
        """Objects seen in at least `min_visible_fraction` of the segment's media frames."""
        media = self.media(seg)
        frac = float(getattr(self.thresholds, "min_visible_fraction", 0.8))

        def compute() -> list[int]:
            if not self.scene.has("object_to_world"):
                return []
            # non-rigid objects (converted data) have no pose: no object question can use them
            return [
                o.id for i, o in enumerate(self.scene.objects)
                if getattr(o, "rigid", True) and measure.visible_fraction(self.scene, i, media) >= frac
            ]

        return self._cached(("visible", seg), compute)

    def static_ids(self, seg: tuple[int, int]) -> list[int]:
        dense = self.dense(seg)
        return self._cached(
            ("static", seg),
            lambda: [
                oid for oid in self.visible_ids(seg)
                if measure.is_static(self.scene, self.scene.object_index(oid), dense, th=self.thresholds)
            ],
        )

    def moving_ids(self, seg: tuple[int, int]) -> list[int]:
        dense = self.dense(seg)
        return self._cached(
            ("moving", seg),
            lambda: [
                oid for oid in self.visible_ids(seg)
                if measure.is_moving(self.scene, self.scene.object_index(oid), dense, th=self.thresholds)
            ],
        )

    @property
    def min_mask_pixels(self) -> int:
        """Mask pixels an object needs in a frame to be pointed at there (threshold `min_mask_pixels`)."""
        return int(self.thresholds.min_mask_pixels)

    def seen_at(self, object_id: int, frame: int) -> bool:
        """The object shows at least `min_mask_pixels` mask pixels in `frame` (can be pointed at there)."""
        return self._cached(
            ("seen", object_id, frame),
            lambda: measure.object_seen(self.scene, self.scene.object_index(object_id), frame,
                                        min_pixels=self.min_mask_pixels),
        )


@dataclass
class RenderEnv:
    """What phase 2 needs to word a candidate."""

    scene_meta: Any                 # SceneMeta of the candidate's scene (captions)
    config: GenerateConfig
    pool: dict[str, int]            # label key -> count among the task's selected candidates (distractors)


# ------------------------------------------------------------------------------ text helpers


def label_key(label: Any) -> str:
    """Canonical string of a label: 'increasing'; 'forward+left' for list labels;
    'move=forward,turn=left' for dict labels (agent motion)."""
    if isinstance(label, dict):
        return ",".join(f"{k}={label[k]}" for k in sorted(label))
    if isinstance(label, (list, tuple)):
        return "+".join(label)
    return str(label)


def key_label(key: str, list_label: bool) -> Any:
    """Inverse of `label_key`."""
    if "=" in key:
        return dict(part.split("=", 1) for part in key.split(","))
    return key.split("+") if list_label else key


def join_phrases(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _templates(task: str) -> dict[str, Any]:
    from qa4d.engine.templates import load_templates

    return load_templates(task)


def _fill(template: str, **slots: Any) -> str:
    from qa4d.engine.templates import fill

    return fill(template, **slots)


def _pick(rng: np.random.Generator, items: Sequence[str], what: str) -> str:
    if not items:
        raise KeyError(f"no templates for {what}")
    return items[int(rng.integers(len(items)))]


# ------------------------------------------------------------------------------ task base


def refer_all(
    ctx: "SceneContext",
    targets: Sequence[tuple[int, Sequence[int] | None]],
    media: Sequence[int],
    rng: np.random.Generator,
    colours: list[str],
) -> list[Any] | None:
    """References for (object id, allowed media positions) pairs, in question order.

    `None` as the positions allows every image the object is seen in. Returns None when any object
    cannot be referred to (caption not unique and never visible where a prompt could go); circle
    colours already used are in `colours`, so several prompts in one image stay distinct.
    """
    refs = []
    for oid, allowed in targets:
        if allowed is None:
            allowed = [p for p, t in enumerate(media) if ctx.seen_at(oid, t)]
        ref = object_reference(ctx.scene, oid, media, list(allowed), ctx.config.ref_modes, rng, colours,
                               min_pixels=ctx.min_mask_pixels)
        if ref is None:
            return None
        refs.append(ref)
    return refs


class Task:
    """A question type. Subclasses set the class attributes and implement the hooks."""

    family = "4dpqa"
    name = ""
    category = ""
    kind = "descriptive"
    requires: tuple[str, ...] = ()          # scene arrays the task needs
    train_formats: tuple[str, ...] = ("mc", "yesno", "free")
    bench_formats: tuple[str, ...] = ("mc", "yesno")
    n_options = 4                           # multiple-choice options
    balance_mode = "equal"                  # options.balance: "equal", "cap" or "none"

    def options_count(self, config: GenerateConfig) -> int:
        """Options of a multiple choice: the task's own count unless the settings override it."""
        return int(config.mc_options.get(self.name, self.n_options))

    # -- phase 1 -------------------------------------------------------------------------
    def check_scene(self, scene) -> str | None:
        missing = [a for a in self.requires if not scene.has(a)]
        if missing:
            return f"scene lacks {', '.join(missing)}"
        return None

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def formats(self, cand: dict[str, Any], split: str) -> tuple[str, ...]:
        allowed = self.train_formats if split == "train" else self.bench_formats
        return tuple(f for f in allowed if f in cand["formats"])

    # -- phase 2 -------------------------------------------------------------------------
    def render(self, cand: dict[str, Any], fmt: str, choice: Any, rng: np.random.Generator, env: RenderEnv) -> dict[str, Any]:
        """-> {"question", "options", "answer", "meta"} for answer format `fmt`.
        choice: the option position of the answer (mc) or True/False (yesno)."""
        raise NotImplementedError

    # -- audit ---------------------------------------------------------------------------
    def recompute(self, record: dict[str, Any], scene, thresholds) -> dict[str, Any]:
        """The answer of `record` derived again from the scene geometry."""
        raise NotImplementedError

    def check(self, record: dict[str, Any], scene, thresholds) -> list[str]:
        """Disagreements between a record and its recomputation (empty when it is right)."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------
    def new_candidate(self, ctx: SceneContext, seg: tuple[int, int], n: int, **fields: Any) -> dict[str, Any]:
        media = ctx.media(seg)
        fps = float(ctx.scene.meta.fps)
        c = {
            "uid": f"{ctx.scene.scene_id}/{self.name}/{seg[0]:05d}-{n:03d}",
            "task": self.name,
            "scene_id": ctx.scene.scene_id,
            "segment": [int(seg[0]), int(seg[1])],
            "frame_indices": [int(t) for t in media],
            "timestamps": [round(t / fps, 6) if fps > 0 else 0.0 for t in media],
        }
        c.update(fields)
        return c


# ------------------------------------------------------------------------------ descriptive


class DescriptiveTask(Task):
    """Label of a measurement over the segment (camera motion, object motion)."""

    kind = "descriptive"
    n_objects = 0
    list_label = False
    vocabulary: tuple[str, ...] = ()        # canonical labels (atoms for list labels)
    opposite: dict[str, str] = {}           # for generating plausible list-label alternatives

    def object_pools(self, ctx: SceneContext, seg: tuple[int, int]) -> list[list[int]]:
        """Candidate object ids for each object slot (in question order)."""
        return []

    def measure(self, scene, object_ids: Sequence[int], frames: Sequence[int]) -> dict[str, Any]:
        raise NotImplementedError

    def label(self, measurement: dict[str, Any], thresholds) -> Any:
        raise NotImplementedError

    def extra_fields(self, measurement: dict[str, Any], thresholds) -> dict[str, Any]:
        """Further candidate fields computed in phase 1 (with the thresholds), e.g. statements
        checked to be false that may fill multiple-choice options beyond the vocabulary."""
        return {}

    def extra_options(self, cand: dict[str, Any]) -> list[Any]:
        """Measured-false statements that may complete a multiple choice when the label
        vocabulary has too few alternatives (none by default)."""
        return []

    # phase 1
    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        cfg = ctx.config
        for seg in ctx.segments(self.name):
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            if self.n_objects == 0:
                tuples: list[tuple[int, ...]] = [()]
            else:
                pools = self.object_pools(ctx, seg)
                tuples = distinct_tuples(rng, pools, cfg.samples_per_segment)
                if not tuples:
                    ctx.skip(self.name, "no qualifying objects in segment")
                    continue
            for objs in tuples:
                m = self.measure(ctx.scene, objs, ctx.dense(seg))
                lab = self.label(m, ctx.thresholds)
                if lab is None:
                    ctx.skip(self.name, "measurement too close to a label boundary")
                    continue
                colours: list[str] = []
                refs = refer_all(ctx, [(oid, None) for oid in objs], media, rng, colours)
                if refs is None:
                    ctx.skip(self.name, "object cannot be referred to (caption not unique, not visible)")
                    continue
                lab = list(lab) if self.list_label else lab
                out.append(self.new_candidate(
                    ctx, seg, len(out), objects=[int(o) for o in objs], refs=refs, label=lab,
                    key=label_key(lab), measurement=_jsonable(m), formats=["mc", "yesno", "free"],
                    **self.extra_fields(m, ctx.thresholds),
                ))
        return out

    # text
    def label_text(self, label: Any, rng: np.random.Generator | None = None) -> str:
        """Phrase of a label (vocab.json via labels.describe): the canonical phrasing without rng
        (options and free answers, so the audit can check them), a random one with it."""
        from qa4d.engine.labels import describe

        return describe(self.name, label, rng)

    def _compatible(self, true: Any, other: Any) -> bool:
        """May `other` be offered next to the true label? Never the same, and for list labels never
        a strict subset of the true atoms (that would be partly true)."""
        if label_key(other) == label_key(true):
            return False
        if self.list_label and set(other) < set(true):
            return False
        return True

    def distractors(self, true: Any, k: int, pool: dict[str, int], rng: np.random.Generator) -> list[Any]:
        """k labels to offer besides the true one, drawn from the task's label pool with the
        pool's frequencies (so a label is offered as a distractor about as often as it is the
        answer: a text prior learns nothing), then from the vocabulary if the pool is too small."""
        chosen: list[Any] = []
        keys = sorted(k_ for k_ in pool if self._compatible(true, key_label(k_, self.list_label)))
        weights = np.array([pool[k_] for k_ in keys], dtype=np.float64)
        while len(chosen) < k and len(keys):
            i = int(rng.choice(len(keys), p=weights / weights.sum()))
            chosen.append(key_label(keys[i], self.list_label))
            keys.pop(i)
            weights = np.delete(weights, i)
        if len(chosen) < k:
            for alt in self.fallback_alternatives(true, rng):
                if len(chosen) >= k:
                    break
                if self._compatible(true, alt) and all(label_key(alt) != label_key(c) for c in chosen):
                    chosen.append(alt)
        return chosen

    def fallback_alternatives(self, true: Any, rng: np.random.Generator) -> list[Any]:
        if not self.list_label:
            return [v for v in self.vocabulary if v != true]
        out = []
        atoms = [a for a in true if a != "static"]
        # flip one atom to its opposite; then single atoms; then "static"
        for i in rng.permutation(len(atoms)):
            a = atoms[int(i)]
            if a in self.opposite:
                alt = [self.opposite[a] if x == a else x for x in atoms]
                out.append(self.canonical_order(alt))
        if atoms:
            flipped = [self.opposite.get(a, a) for a in atoms]
            out.append(self.canonical_order(flipped))
        for i in rng.permutation(len(self.vocabulary)):
            v = self.vocabulary[int(i)]
            if v not in atoms:
                out.append([v])
        return out

    def canonical_order(self, atoms: Sequence[str]) -> list[str]:
        order = {v: i for i, v in enumerate(self.vocabulary)}
        return sorted(set(atoms), key=lambda a: order.get(a, 99))

    def slots(self, cand: dict[str, Any], rng: np.random.Generator, env: RenderEnv) -> dict[str, str]:
        names = ["obj1", "obj2", "obj3"]
        n = len(cand["frame_indices"])
        out: dict[str, str] = {"frame1": frame_phrase(0), "frame2": frame_phrase(n - 1)}
        for i, ref in enumerate(cand["refs"]):
            p = phrase(ref, env.scene_meta, rng, env.config.coord_style)
            out[names[i]] = p
            if i == 0:
                out["obj"] = p
        return out

    def render(self, cand, fmt, choice, rng, env):
        t = _templates(self.name)
        slots = self.slots(cand, rng, env)
        true = cand["label"]
        meta: dict[str, Any] = {
            "objects": list(cand["objects"]),
            "measurement": cand["measurement"],
            "label": label_key(true),  # labels are written as their canonical key: one type per field
            "segment": cand["segment"],
            "refs": cand["refs"],
        }
        options = None
        if fmt == "mc":
            n_options = self.options_count(env.config)
            others = self.distractors(true, n_options - 1, env.pool, rng)
            extra = self.extra_options(cand)
            for i in rng.permutation(len(extra)) if len(others) < n_options - 1 else []:
                if len(others) < n_options - 1:
                    others.append(extra[int(i)])
            if len(others) < n_options - 1:
                raise Skip("not enough distinct options")
            labels = list(others)
            labels.insert(int(choice), true)
            options = {LETTERS[i]: self.label_text(lab) for i, lab in enumerate(labels)}
            meta["option_labels"] = {LETTERS[i]: label_key(lab) for i, lab in enumerate(labels)}
            question = _fill(_pick(rng, t.questions["mc"], f"{self.name} mc"), **slots)
            answer = LETTERS[int(choice)]
        elif fmt == "yesno":
            if choice:
                stated = true
            else:
                alts = self.distractors(true, 1, env.pool, rng)
                if not alts:
                    raise Skip("no false statement available")
                stated = alts[0]
            meta["statement"] = label_key(stated)
            question = _fill(_pick(rng, t.questions["yesno"], f"{self.name} yesno"), label=self.label_text(stated, rng), **slots)
            answer = "yes" if choice else "no"
        elif fmt == "free":
            question = _fill(_pick(rng, t.questions["free"], f"{self.name} free"), **slots)
            answer = _fill(_pick(rng, t.answers["free"], f"{self.name} free answer"), answer=self.label_text(true), label=self.label_text(true), **slots)
        else:
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        return {"question": question, "options": options, "answer": answer, "meta": meta}

    # audit
    def recompute(self, record, scene, thresholds):
        seg = record["meta"]["segment"]
        m = self.measure(scene, record["meta"]["objects"], list(range(seg[0], seg[1])))
        lab = self.label(m, thresholds)
        if lab is not None and self.list_label:
            lab = list(lab)
        return {"label": lab, "measurement": _jsonable(m)}

    def check(self, record, scene, thresholds):
        problems = []
        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        lab = got["label"]
        if lab is None:
            return [f"label is now ambiguous (recorded {meta.get('label')!r})"]
        if label_key(lab) != label_key(meta.get("label")):
            problems.append(f"meta.label is {meta.get('label')!r}, geometry gives {lab!r}")
        fmt = record["answer_format"]
        text = self.label_text(lab)
        if fmt == "mc":
            opts = record["options"] or {}
            if opts.get(record["answer"]) != text:
                problems.append(f"answer {record['answer']!r} is {opts.get(record['answer'])!r}, expected {text!r}")
            if sum(v == text for v in opts.values()) != 1:
                problems.append("the correct text is not exactly one option")
            for letter, okey in (meta.get("option_labels") or {}).items():
                olab = key_label(okey, self.list_label) if isinstance(okey, str) else okey
                if letter != record["answer"] and not self._compatible(lab, olab):
                    problems.append(f"option {letter} ({olab!r}) is also right")
        elif fmt == "yesno":
            stated = meta.get("statement")
            if isinstance(stated, str):
                stated = key_label(stated, self.list_label)
            want = "yes" if stated is not None and label_key(stated) == label_key(lab) else "no"
            if record["answer"] != want:
                problems.append(f"answer {record['answer']!r}, but the stated label {stated!r} vs geometry {lab!r} gives {want!r}")
            if stated is not None and want == "no" and not self._compatible(lab, stated):
                problems.append(f"statement {stated!r} is partly true")
        elif fmt == "free":
            if text not in record["answer"]:
                problems.append(f"free answer {record['answer']!r} does not state {text!r}")
        return problems


# ------------------------------------------------------------------------------ compare


class CompareTask(Task):
    """Which item has the smallest / largest value. Items are dicts {"object", "frame",
    "ref_object"} ("frame": media position or None); values come from `value`."""

    kind = "compare"
    balance_mode = "cap"  # the key (winner's category) only describes the answer
    per_frame = True          # every item is at a media frame (depth, distances); False: whole segment
    multiview = False         # items at different frames

    def item_sets(self, ctx: SceneContext, seg: tuple[int, int], rng: np.random.Generator) -> list[list[dict[str, Any]]]:
        raise NotImplementedError

    def value(self, scene, item: dict[str, Any], media: Sequence[int], segment: Sequence[int]) -> float:
        raise NotImplementedError

    def clear(self, a: float, b: float, thresholds) -> bool:
        """a and b differ enough to say which is larger (labels.compare_label)."""
        from qa4d.engine.labels import compare_label

        return compare_label(a, b, thresholds, task=self.name) is not None

    def winner(self, values: Sequence[float], polarity: str, thresholds) -> int | None:
        v = np.asarray(values, dtype=np.float64)
        if not np.isfinite(v).all():
            return None
        w = int(np.argmin(v) if polarity == "min" else np.argmax(v))
        for j in range(len(v)):
            if j != w and not self.clear(float(v[w]), float(v[j]), thresholds):
                return None
        return w

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        cfg = ctx.config
        for seg in ctx.segments(self.name):
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            sets = self.item_sets(ctx, seg, rng)
            if not sets:
                ctx.skip(self.name, "not enough qualifying objects in segment")
                continue
            for items in sets:
                polarity = self.polarity()
                values = [self.value(ctx.scene, it, media, ctx.dense(seg)) for it in items]
                w = self.winner(values, polarity, ctx.thresholds)
                if w is None and len(items) > 2:
                    # fall back to a clear pair: the extreme item against one clearly different item
                    v = np.asarray(values)
                    if np.isfinite(v).all():
                        best = int(np.argmin(v) if polarity == "min" else np.argmax(v))
                        others = [j for j in range(len(items)) if j != best and self.clear(v[best], v[j], ctx.thresholds)]
                        if others:
                            j = others[int(rng.integers(len(others)))]
                            items, values = [items[best], items[j]], [values[best], values[j]]
                            w = 0
                if w is None:
                    ctx.skip(self.name, "values too close to compare")
                    continue
                colours: list[str] = []
                fixed = [None if it.get("frame") is None else [it["frame"]] for it in items]
                refs = refer_all(ctx, [(it["object"], f) for it, f in zip(items, fixed)], media, rng, colours)
                anchor = items[0].get("ref_object")
                ref_ref = None
                if anchor is not None and refs is not None:
                    frames = sorted({it["frame"] for it in items if it.get("frame") is not None})
                    allowed = [p for p in frames if ctx.seen_at(anchor, media[p])]
                    ref_ref = object_reference(ctx.scene, anchor, media, allowed, cfg.ref_modes, rng, colours,
                                               min_pixels=ctx.min_mask_pixels)
                    if ref_ref is None:
                        refs = None
                if refs is None:
                    ctx.skip(self.name, "object cannot be referred to (caption not unique, not visible)")
                    continue
                formats = ["yesno", "free"] + (["mc"] if len(items) >= self.options_count(cfg) else [])
                win_obj = ctx.scene.object(items[w]["object"])
                out.append(self.new_candidate(
                    ctx, seg, len(out), items=items, refs=refs, values=[float(x) for x in values], winner=w,
                    polarity=polarity, key=f"{polarity}:{win_obj.category}", formats=formats,
                    ref_object=anchor, ref_ref=ref_ref,
                ))
        return out

    def item_text(self, item: dict[str, Any], ref: dict[str, Any], rng, env, name_frame: bool) -> str:
        """Wording of an item. Multi-view items always carry their image: in the question's own
        {frameN} slot (name_frame False) or, as options, appended ("{obj} in {frame}")."""
        if not self.multiview:
            # single-frame questions name their frame once ("In {frame}, ..."): drop it from references
            return phrase(ref, env.scene_meta, rng, env.config.coord_style, name_frame=not self.per_frame)
        p = phrase(ref, env.scene_meta, rng, env.config.coord_style, name_frame=False)
        if name_frame:
            from qa4d.engine.references import phrases

            p = phrases()["item_at_frame"].format(obj=p, frame=frame_phrase(item["frame"]))
        return p

    def render(self, cand, fmt, choice, rng, env):
        t = _templates(self.name)
        items, refs, values, w = cand["items"], cand["refs"], cand["values"], cand["winner"]
        order: list[int]
        if fmt == "mc":
            others = [j for j in range(len(items)) if j != w]
            others = [int(j) for j in rng.permutation(others)][: self.options_count(env.config) - 1]
            order = list(others)
            order.insert(int(choice), w)
        else:
            others = [j for j in range(len(items)) if j != w]
            j = int(others[int(rng.integers(len(others)))])
            if fmt == "yesno":
                order = [w, j] if choice else [j, w]
            else:
                order = [w, j] if rng.random() < 0.5 else [j, w]
        texts = [self.item_text(items[i], refs[i], rng, env, name_frame=True) for i in order]
        bare = [self.item_text(items[i], refs[i], rng, env, name_frame=False) for i in order] if self.multiview else texts
        n = len(cand["frame_indices"])
        slots: dict[str, str] = {"frame1": frame_phrase(0), "frame2": frame_phrase(n - 1)}  # segment bounds
        extra = self.extra_slots(cand, order, rng, env)
        slots.update(extra)
        off = 1 if "obj1" in extra else 0
        for k, text in enumerate(bare):
            slots[f"obj{k + 1 + off}"] = text
        if self.per_frame and not self.multiview:
            slots["frame"] = frame_phrase(items[order[0]]["frame"])
        if self.multiview:
            for k, i in enumerate(order):
                slots[f"frame{k + 1}"] = frame_phrase(items[i]["frame"])
        new_w = order.index(w)
        meta: dict[str, Any] = {
            "objects": ([int(cand["ref_object"])] if cand.get("ref_object") is not None else []) + [int(items[i]["object"]) for i in order],
            "measurement": {"values": [values[i] for i in order], "polarity": cand["polarity"]},
            "items": [self.item_meta(cand, items[i]) for i in order],
            "winner": new_w,
            "polarity": cand["polarity"],
            "segment": cand["segment"],
            "refs": ([cand["ref_ref"]] if cand.get("ref_ref") else []) + [refs[i] for i in order],
            "item_texts": texts,
        }
        options = None
        if fmt == "mc":
            options = {LETTERS[k]: text for k, text in enumerate(texts)}
            question = _fill(_pick(rng, t.questions["mc"], f"{self.name} mc"), **slots)
            answer = LETTERS[new_w]
        elif fmt == "yesno":
            question = _fill(_pick(rng, t.questions["yesno"], f"{self.name} yesno"), **slots)
            answer = "yes" if new_w == 0 else "no"
        elif fmt == "free":
            question = _fill(_pick(rng, t.questions["free"], f"{self.name} free"), **slots)
            answer = _fill(_pick(rng, t.answers["free"], f"{self.name} free answer"), answer=texts[new_w], **slots)
        else:
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        return {"question": question, "options": options, "answer": answer, "meta": meta}

    def polarity(self) -> str:
        """"min" or "max": what the task's templates ask for (their `asks`: smaller / larger)."""
        asks = _templates(self.name).asks
        if asks not in ("smaller", "larger"):
            raise ValueError(f"templates of {self.name}: 'asks' must be 'smaller' or 'larger', got {asks!r}")
        return "min" if asks == "smaller" else "max"

    def extra_slots(self, cand, order, rng, env) -> dict[str, str]:
        """The reference object of distance questions is {obj1}; the compared items follow."""
        if cand.get("ref_ref"):
            name_frame = self.multiview or not self.per_frame
            return {"obj1": phrase(cand["ref_ref"], env.scene_meta, rng, env.config.coord_style, name_frame=name_frame)}
        return {}

    def item_meta(self, cand: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        out = {"object": int(item["object"])}
        if item.get("frame") is not None:
            out["media"] = int(item["frame"])
            out["frame"] = int(cand["frame_indices"][item["frame"]])
        if item.get("ref_object") is not None:
            out["ref_object"] = int(item["ref_object"])
        return out

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        seg = meta["segment"]
        media = record["frame_indices"]
        items = []
        for it in meta["items"]:
            d = {"object": it["object"], "frame": it.get("media"), "ref_object": it.get("ref_object")}
            items.append(d)
        values = [self.value(scene, it, media, list(range(seg[0], seg[1]))) for it in items]
        return {"values": values, "winner": self.winner(values, meta["polarity"], thresholds)}

    def check(self, record, scene, thresholds):
        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        w = got["winner"]
        if w is None:
            return [f"values {got['values']} no longer give a clear {meta.get('polarity')}"]
        problems = []
        if w != meta.get("winner"):
            problems.append(f"meta.winner is {meta.get('winner')!r}, geometry gives {w}")
        fmt = record["answer_format"]
        if fmt == "mc" and record["answer"] != LETTERS[w]:
            problems.append(f"answer {record['answer']!r}, geometry gives {LETTERS[w]!r}")
        if fmt == "yesno" and record["answer"] != ("yes" if w == 0 else "no"):
            problems.append(f"answer {record['answer']!r}, geometry gives {'yes' if w == 0 else 'no'!r}")
        if fmt == "free":
            texts = meta.get("item_texts") or []
            if w >= len(texts) or texts[w] not in record["answer"]:
                problems.append(f"free answer {record['answer']!r} does not name the right item")
            elif any(t in record["answer"] and t not in texts[w] for i, t in enumerate(texts) if i != w):
                problems.append(f"free answer {record['answer']!r} names a wrong item")
        return problems


def _jsonable(x: Any) -> Any:
    """Measurements -> JSON: floats (NaN -> None), lists, dicts."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return None if not math.isfinite(f) else f
    return x


# ------------------------------------------------------------------------------ tracking


class TrackTask(Task):
    """Where a query point is in named target images: visual (P2D) or true-motion (M2D) tracks
    (4DP-QA sec. 3.1). Coordinates are normalised to [0, 1] with 3 decimals; target images are
    named in random order, so the answer cannot be extrapolated frame by frame."""

    kind = "track"
    balance_mode = "none"
    category = "point_tracking"
    track_kind = "visual"
    requires = ("tracks_world",)
    train_formats = ("track",)
    bench_formats = ("track",)

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        from qa4d.engine.references import point_reference
        from qa4d.engine.sampling import weighted_choice

        out = []
        cfg = ctx.config
        scene = ctx.scene
        w, h = scene.meta.width, scene.meta.height
        tobj = np.asarray(scene.tracks_object) if scene.has("tracks_object") else np.zeros(len(scene.tracks_world), np.int64)
        lo, hi = cfg.track_targets
        point_modes = {m: v for m, v in cfg.ref_modes.items() if m != "caption"} or {"coord": 1.0}
        for seg in ctx.segments(self.name):
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            if len(media) < 2:
                ctx.skip(self.name, "segment shorter than two frames")
                continue
            moving = np.isin(tobj, np.asarray(ctx.moving_ids(seg), dtype=np.int64))
            seen: set[tuple[int, int]] = set()
            for _ in range(cfg.samples_per_segment):
                q = int(rng.integers(len(media)))
                uv, vis = measure.tracks_2d(scene, media, int(media[q]), self.track_kind)
                finite = np.isfinite(uv).all(axis=-1)
                ok = vis[:, q] & finite[:, q]
                ok &= np.array([(i, q) not in seen for i in range(len(ok))], dtype=bool) if seen else True
                if not ok.any():
                    ctx.skip(self.name, "no point visible in the query frame")
                    continue
                # Half the questions on moving objects when there are any: background points alone
                # would teach only camera motion.
                pool = np.flatnonzero(ok & moving) if (ok & moving).any() and rng.random() < 0.5 else np.flatnonzero(ok)
                i = int(pool[int(rng.integers(len(pool)))])
                seen.add((i, q))
                others = [p for p in range(len(media)) if p != q and finite[i, p]]
                if not others:
                    ctx.skip(self.name, "point behind the camera in every other frame")
                    continue
                k = int(rng.integers(min(lo, len(others)), min(hi, len(others)) + 1))
                targets = choose(rng, others, max(k, 1))
                mode = weighted_choice(rng, point_modes)
                ref = point_reference(tuple(uv[i, q]), q, mode, w, h, [])
                track = []
                for p in targets:
                    x, y = np.clip(uv[i, p] / np.array([w, h]), 0.0, 1.0)
                    track.append({"frame": int(media[p]), "media": int(p), "x": round(float(x), 3), "y": round(float(y), 3),
                                  "visible": bool(vis[i, p])})
                n_vis = sum(e["visible"] for e in track)
                out.append(self.new_candidate(
                    ctx, seg, len(out), refs=[ref], track_index=i, object_id=int(tobj[i]),
                    query={"frame": int(media[q]), "media": q, "x": ref["x"], "y": ref["y"]}, track=track,
                    key=f"visible={n_vis}/{len(track)}", formats=["track"],
                ))
        return out

    def render(self, cand, fmt, choice, rng, env):
        from qa4d.engine.templates import format_point, format_track

        t = _templates(self.name)
        ref = cand["refs"][0]
        q = cand["query"]
        names = {e["frame"]: e["media"] + 1 for e in cand["track"]}
        if ref["mode"] == "coord":
            point = format_point(q["x"], q["y"])
        else:  # templates say "the point at {point} in {query_frame}"
            from qa4d.engine.references import phrases

            choices = phrases()["point_slot"]["prompt"]
            point = choices[int(rng.integers(len(choices)))].format(colour=ref["colour"])
        slots = {
            "point": point,
            "query_frame": frame_phrase(q["media"]),
            "target_frames": target_frames_text([e["media"] for e in cand["track"]]),
        }
        question = _fill(_pick(rng, t.questions["track"], f"{self.name} track"), **slots)
        answer_text = format_track(cand["track"], names)
        answer = _fill(_pick(rng, t.answers["track"], f"{self.name} track answer"), answer=answer_text, **slots)
        meta = {
            "objects": [cand["object_id"]] if cand["object_id"] > 0 else [],
            "measurement": {"track": cand["track"], "kind": self.track_kind},
            "query": q,
            "object_id": cand["object_id"],
            "track": cand["track"],
            "track_index": cand["track_index"],
            "segment": cand["segment"],
            "refs": cand["refs"],
            "answer_text": answer_text,
        }
        return {"question": question, "options": None, "answer": answer, "meta": meta}

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        media = record["frame_indices"]
        q = meta["query"]
        uv, vis = measure.tracks_2d(scene, media, int(q["frame"]), self.track_kind)
        i = int(meta["track_index"])
        w, h = scene.meta.width, scene.meta.height
        track = []
        for e in meta["track"]:
            p = media.index(e["frame"])
            x, y = np.clip(uv[i, p] / np.array([w, h]), 0.0, 1.0)
            track.append({"frame": e["frame"], "x": round(float(x), 3), "y": round(float(y), 3), "visible": bool(vis[i, p])})
        qp = media.index(q["frame"])
        query = {"x": round(float(uv[i, qp, 0] / w), 3), "y": round(float(uv[i, qp, 1] / h), 3), "visible": bool(vis[i, qp])}
        tobj = int(scene.tracks_object[i]) if scene.has("tracks_object") else 0
        return {"track": track, "query": query, "object_id": tobj}

    def check(self, record, scene, thresholds):
        from qa4d.engine.templates import format_track

        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        problems = []
        q = meta["query"]
        if not got["query"]["visible"] or abs(got["query"]["x"] - q["x"]) > 1.5e-3 or abs(got["query"]["y"] - q["y"]) > 1.5e-3:
            problems.append(f"query {q} disagrees with the track ({got['query']})")
        if got["object_id"] != meta.get("object_id"):
            problems.append(f"meta.object_id is {meta.get('object_id')}, the track belongs to {got['object_id']}")
        for e, g in zip(meta["track"], got["track"]):
            if e["visible"] != g["visible"] or abs(e["x"] - g["x"]) > 1.5e-3 or abs(e["y"] - g["y"]) > 1.5e-3:
                problems.append(f"track entry {e} disagrees with geometry {g}")
        names = {f: record["frame_indices"].index(f) + 1 for f in (e["frame"] for e in meta["track"])}
        text = format_track(meta["track"], names)
        if text not in record["answer"]:
            problems.append(f"answer {record['answer']!r} does not contain the track {text!r}")
        return problems


def target_frames_text(media_positions: Sequence[int]) -> str:
    """'frame 3' or 'frames 5, 2 and 7' (1-based, in the given order)."""
    from qa4d.engine.references import phrases

    nums = [str(p + 1) for p in media_positions]
    if len(nums) == 1:
        return frame_phrase(media_positions[0])
    word = phrases().get("frames_word", "frames")
    return f"{word} {join_phrases(nums)}"
