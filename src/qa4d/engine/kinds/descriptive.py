"""Descriptive kind: a canonical label of a measurement over a segment."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qa4d.engine.kinds.base import (
    LETTERS, RenderEnv, SceneContext, Skip, Task, _fill, _pick, _templates, key_label, label_key,
    refer_all, _jsonable,
)
from qa4d.engine.references import frame_phrase, phrase
from qa4d.engine.sampling import distinct_tuples


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
        """Phrase of a label from the family's vocabulary: the canonical phrasing without rng
        (options and free answers, so the audit can check them), a random one with it.
        Each family implements it (e.g. from a vocab.json in its folder)."""
        raise NotImplementedError(f"{self.family}/{self.name}: label_text is not implemented")

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
        t = _templates(self)
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
