"""What every VLM4D-style task shares: measurements from poses, option texts, the mc record.

A candidate holds `label` (the key of the correct option) and either `option_keys` (the three
others, fixed) or `valid_keys` (every option checked clearly false in phase 1, of which render
draws three with the frequencies of the task's answers, so each option text is the answer in about
a quarter of the questions offering it); keys are words of vocab.json "options",
"absent:<category>" or "n:<int>" for counts. `check` recomputes the label from the scene and
re-checks every option.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa4d.engine import measure
from qa4d.engine.kinds.base import LETTERS, Skip, Task, _fill, _jsonable, _pick, _templates, refer_all
from qa4d.engine.references import object_reference, phrase

FAMILY = "vlm4d"


@lru_cache(maxsize=1)
def vocab() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "vocab.json").read_text(encoding="utf-8"))


def option_text(key: str) -> str:
    if key.startswith("absent:"):
        return vocab()["options"]["absent"].format(category=key.split(":", 1)[1])
    if key.startswith("n:"):
        return key[2:]
    return vocab()["options"][key]


def band(th, name: str) -> tuple[float, float]:
    b = getattr(th, name)
    return float(b[0]), float(b[1])


def _words(text: str) -> set[str]:
    return set(text.lower().split())


def present_words(scene) -> set[str]:
    out: set[str] = set()
    for o in scene.objects:
        out |= _words(o.category) | _words(o.caption)
    return out


def is_absent(scene, category: str) -> bool:
    """No object of the scene shares a word with `category` (so "ball" is not absent beside a
    soccer ball)."""
    return not (_words(category) & present_words(scene))


def spin_symmetric(scene, oid: int) -> bool:
    return scene.objects[scene.object_index(oid)].category in vocab()["spin_symmetric_categories"]


# ------------------------------------------------------------------------------ geometry


def camera_mount(scene, frames: Sequence[int], th) -> int | None:
    """Id of the object the camera rides on over `frames` (their relative pose constant while the
    camera moves), else None. Pure poses: works on converted scenes too."""
    if not scene.has("object_to_world"):
        return None
    f = np.asarray(frames)
    c2w = np.asarray(scene.cam_to_world, np.float64)[f]
    cam_move = np.linalg.norm(c2w[:, :3, 3] - c2w[0, :3, 3], axis=1).max()
    cam_turn = measure._angle(c2w[:, :3, :3] @ c2w[0, :3, :3].T).max()
    if cam_move <= th.mount_tol_m and cam_turn <= th.mount_tol_deg:
        return None  # a camera that stands still watches from outside
    o2w = np.asarray(scene.array("object_to_world"), np.float64)[:, f]
    for i, obj in enumerate(scene.objects):
        poses = o2w[i]
        if not np.isfinite(poses).all():
            continue
        rel = np.linalg.inv(poses) @ c2w
        shift = np.linalg.norm(rel[:, :3, 3] - rel[0, :3, 3], axis=1).max()
        turn = measure._angle(rel[:, :3, :3] @ rel[0, :3, :3].T).max()
        if shift <= th.mount_tol_m and turn <= th.mount_tol_deg:
            return int(obj.id)
    return None


def group(scene, frames, th) -> str:
    return "ego" if camera_mount(scene, frames, th) is not None else "exo"


def direction(scene, oid: int, frames, th) -> str | None:
    """left/right/towards/away/up/down: the one displacement component (first camera's horizontal
    right axis, horizontal line of sight, world up) at or above the high band, the others at or
    below the low band, path <= path_ratio_max x net displacement; None otherwise."""
    m = measure.object_direction(scene, scene.object_index(oid), frames)
    if not np.isfinite(m["total"]):
        return None
    lo, hi = (max(a * m["distance0"], b) for a, b in zip(band(th, "direction_rel"), band(th, "direction_m")))
    comps = {("right", "left"): m["lateral"], ("away", "towards"): m["radial"], ("up", "down"): m["vertical"]}
    big = [(names, v) for names, v in comps.items() if abs(v) >= hi]
    if len(big) != 1 or any(lo < abs(v) < hi for v in comps.values()):
        return None
    if m["path"] > th.path_ratio_max * m["total"]:
        return None
    names, v = big[0]
    return names[0] if v > 0 else names[1]


def max_shift(scene, oid: int, frames) -> float:
    c = measure.object_centers(scene, scene.object_index(oid), frames)
    c = c[np.isfinite(c).all(axis=1)]
    return float(np.linalg.norm(c - c[0], axis=1).max()) if len(c) >= 2 else float("nan")


def translates(scene, oid: int, frames, th) -> bool | None:
    """True / False / None (in the dead band or unknown): largest distance from the first centre."""
    s = max_shift(scene, oid, frames)
    lo, hi = band(th, "translate_m")
    if not np.isfinite(s):
        return None
    return True if s >= hi else False if s <= lo else None


def spin(scene, oid: int, frames, th) -> str | None:
    """ccw / cw / not_spinning / None. ccw = positive cumulative yaw about world up (seen from
    above); not_spinning = orientation never more than spin_static_deg from the first."""
    idx = scene.object_index(oid)
    m = measure.object_rotation(scene, idx, frames)
    if not np.isfinite(m["yaw"]):
        return None
    poses = np.asarray(scene.array("object_to_world"), np.float64)[idx, np.asarray(frames)]
    turn = measure._angle(poses[:, :3, :3] @ poses[0, :3, :3].T).max()
    if turn <= th.spin_static_deg:
        return "not_spinning"
    lo, hi = band(th, "rotation_deg")
    if m["tilt"] > th.rotation_max_tilt_deg or abs(m["yaw"]) < hi:
        return None
    if spin_symmetric(scene, oid):
        return None  # a turn of a round object is not visible
    return "ccw" if m["yaw"] > 0 else "cw"


DIRECTIONS = ("left", "right", "towards", "away", "up", "down")
OPPOSITE = {"left": "right", "right": "left", "towards": "away", "away": "towards", "up": "down", "down": "up",
            "ccw": "cw", "cw": "ccw"}


# ------------------------------------------------------------------------------ task base


class VLM4DTask(Task):
    """4-option mc; subclasses implement `items` (phase 1) and `truth` (audit)."""

    family = FAMILY
    kind = "descriptive"
    requires = ("object_to_world",)
    train_formats = ("mc",)
    bench_formats = ("mc",)
    n_options = 4

    def items(self, ctx, seg, frames, rng, exclude: set[int]) -> list[dict[str, Any]]:
        """-> [{"objects": [...], "label": key, "option_keys": [3 keys], "meta": {...}}]."""
        raise NotImplementedError

    def truth(self, scene, record: dict[str, Any], frames, th) -> str | None:
        """The correct option key recomputed from the scene (None: too close to call)."""
        raise NotImplementedError

    def wrong(self, scene, record, key: str, true: str, frames, th) -> bool:
        """Is option `key` clearly false when `true` is the answer? Labels of one measurement are
        mutually exclusive; absent:<c> is false when c is present."""
        if key == true:
            return False
        if key.startswith("absent:"):
            return not is_absent(scene, key.split(":", 1)[1])
        return True

    caption_only = False   # True: objects named by caption only (an absent one can only be named)

    def refer(self, ctx, objects, media, rng):
        if not self.caption_only:
            return refer_all(ctx, [(o, None) for o in objects], media, rng, [])
        refs = []
        for oid in objects:
            allowed = [p for p, t in enumerate(media) if ctx.seen_at(oid, t)]
            ref = object_reference(ctx.scene, oid, media, allowed, {"caption": 1.0}, rng, [], min_pixels=ctx.min_mask_pixels)
            if ref is None:
                return None
            refs.append(ref)
        return refs

    def candidates(self, ctx):
        out = []
        for seg in ctx.segments(self.name):
            frames = ctx.dense(seg)
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            mount = camera_mount(ctx.scene, frames, ctx.thresholds)
            for it in self.items(ctx, seg, frames, rng, {mount} if mount is not None else set()):
                refs = self.refer(ctx, it["objects"], media, rng)
                if refs is None:
                    ctx.skip(self.name, "object cannot be referred to")
                    continue
                out.append(self.new_candidate(
                    ctx, seg, len(out), objects=[int(o) for o in it["objects"]], refs=refs, label=it["label"],
                    key=it.get("key", pool_key(it["label"])), formats=["mc"],
                    **{k: list(it[k]) for k in ("option_keys", "valid_keys", "pool_tags", "absent_choices") if k in it},
                    group="ego" if mount is not None else "exo", extra_meta=_jsonable(it.get("meta", {})),
                ))
        return out

    def render(self, cand, fmt, choice, rng, env):
        if fmt != "mc":
            raise ValueError(f"{self.key}: only mc")
        t = _templates(self)
        if cand.get("absent_choices"):
            cand = matched_absent(cand, env.pool, rng)
        slots = {f"obj{i + 1}": phrase(r, env.scene_meta, rng, env.config.coord_style) for i, r in enumerate(cand["refs"])}
        if slots:
            slots["obj"] = slots["obj1"]
        extra = cand["extra_meta"]
        slots["category"] = extra.get("absent_category", "")
        if extra.get("absent_category"):  # named like the captions of objects that are there
            slots["obj"] = slots["obj1"] = extra["absent_name"]
        if extra.get("style"):  # false positives are asked in another task's wording
            from qa4d.engine.registry import get_family
            from qa4d.engine.templates import load_templates

            t = load_templates(extra["style"], family=get_family(self.family))
        question = _fill(_pick(rng, t.questions["mc"], self.name), **slots)
        if "option_keys" in cand:
            keys = [cand["option_keys"][int(i)] for i in rng.permutation(3)]
        else:
            keys = draw(cand["valid_keys"], env.pool, rng)
        keys.insert(int(choice), cand["label"])
        options = {LETTERS[i]: option_text(k) for i, k in enumerate(keys)}
        meta = {"objects": list(cand["objects"]), "value": option_text(cand["label"]), "label": cand["label"],
                "option_labels": {LETTERS[i]: k for i, k in enumerate(keys)}, "segment": cand["segment"],
                "refs": cand["refs"], "group": cand["group"], "measurement": {}, **extra}
        return {"question": question, "options": options, "answer": LETTERS[int(choice)], "meta": meta}

    def recompute(self, record, scene, thresholds):
        seg = record["meta"]["segment"]
        return {"label": self.truth(scene, record, list(range(seg[0], seg[1])), thresholds)}

    def check(self, record, scene, thresholds):
        meta = record["meta"]
        seg = meta["segment"]
        frames = list(range(seg[0], seg[1]))
        true = self.truth(scene, record, frames, thresholds)
        if true is None:
            return [f"label is now ambiguous (recorded {meta.get('label')!r})"]
        problems = []
        text = option_text(true)
        opts = record.get("options") or {}
        if meta.get("label") != true or meta.get("value") != text:
            problems.append(f"meta.label/value are {meta.get('label')!r}/{meta.get('value')!r}, geometry gives {true!r}")
        if opts.get(record["answer"]) != text:
            problems.append(f"answer {record['answer']!r} is {opts.get(record['answer'])!r}, expected {text!r}")
        if len(opts) != 4 or sum(v == text for v in opts.values()) != 1:
            problems.append("not 4 options with the correct text exactly once")
        for letter, key in (meta.get("option_labels") or {}).items():
            if option_text(key) != opts.get(letter):
                problems.append(f"option {letter} text does not match its key {key!r}")
            if letter != record["answer"] and not self.wrong(scene, record, key, true, frames, thresholds):
                problems.append(f"option {letter} ({key!r}) is also right")
        g = group(scene, frames, thresholds)
        if meta.get("group") != g:
            problems.append(f"meta.group is {meta.get('group')!r}, poses give {g!r}")
        return problems


def pool_key(option_key: str) -> str:
    """The balancing key an option's text is counted under ("absent" for every absent category)."""
    return "absent" if option_key.startswith("absent:") else option_key


def draw(valid: Sequence[str], pool: dict[str, int], rng, k: int = 3) -> list[str]:
    """k of the valid (clearly false) option keys, drawn without replacement with weights = how
    often each is the answer among the task's selected questions; keys never an answer fill in."""
    keys = list(valid)
    w = np.array([float(pool.get(pool_key(x), 0)) for x in keys])
    out: list[str] = []
    while len(out) < k and (w > 0).any():
        i = int(rng.choice(len(keys), p=w / w.sum()))
        out.append(keys.pop(i))
        w = np.delete(w, i)
    rest = [keys[int(i)] for i in rng.permutation(len(keys))]
    out += rest[: k - len(out)]
    if len(out) < k:
        raise Skip("not enough distinct options")
    return out


def name_tag(scene, oid: int) -> str | None:
    """"name:<category>|<size>|<colour>" of an object whose caption reads "the {size} {colour}
    {category}" with words of vocab.json (the simulator's captions), else None. Present objects
    asked about carry it as a pool tag, so absent ones can be named like them (`matched_absent`)."""
    o = scene.objects[scene.object_index(oid)]
    words = o.caption.split()
    cat = o.category.split()
    v = vocab()
    if len(words) != 3 + len(cat) or words[0] != "the" or words[3:] != cat:
        return None
    if words[1] not in v["absent_sizes"] or words[2] not in v["absent_colours"]:
        return None
    return f"name:{o.category}|{words[1]}|{words[2]}"


def absent_item(scene, rng, others: list[str], fixed: bool, skip: Sequence[str] = ()) -> dict[str, Any] | None:
    """A question about a category absent from the scene (answer "no <category> there"), with
    `others` as its fixed options (fixed) or its clearly false candidates (else).

    The category and the caption it is named by ("the {size} {colour} {category}") are drawn in
    phase 2 (`matched_absent`) like the names of the present objects the task asks about, so which
    category, size or colour word a question holds says nothing about whether the object is there.
    The phase-1 draw below (uniform; categories in `skip`, those the task seldom asks about when
    present, left out) is used only when the task has no named present objects to match."""
    choices = [c for c in vocab()["absent_categories"] if is_absent(scene, c)]
    absent = [c for c in choices if c not in skip]
    if not absent:
        return None
    c = absent[int(rng.integers(len(absent)))]
    v = vocab()
    name = f"the {v['absent_sizes'][int(rng.integers(len(v['absent_sizes'])))]} " \
           f"{v['absent_colours'][int(rng.integers(len(v['absent_colours'])))]} {c}"
    return {"objects": [], "label": f"absent:{c}", "key": "absent", ("option_keys" if fixed else "valid_keys"): others,
            "absent_choices": choices, "pool_tags": [f"eligible:{x}" for x in choices],
            "meta": {"fp": "absent", "absent_category": c, "absent_name": name}}


def matched_absent(cand: dict[str, Any], pool: dict[str, int], rng) -> dict[str, Any]:
    """The absent candidate with its category and name drawn from the names of the present objects
    of the task's selected questions (pool tags "name:<category>|<size>|<colour>"), among the
    categories absent from its scene. A name's weight is its count divided by the number of absent
    questions whose scene lacks its category ("eligible:<category>"), so each name is drawn about
    as often, relative to its count, whatever scenes it is absent from: P(absent | name) is then the
    same for every name. Unchanged when no present name fits (the phase-1 draw stands)."""
    choices = set(cand["absent_choices"])
    tags, weights = [], []
    for tag, n in sorted(pool.items()):
        if not tag.startswith("name:") or n <= 0:
            continue
        cat = tag[5:].split("|")[0]
        if cat in choices:
            tags.append(tag)
            weights.append(float(n) / max(1.0, float(pool.get(f"eligible:{cat}", 0))))
    if not tags:
        return cand
    w = np.asarray(weights)
    cat, size, colour = tags[int(rng.choice(len(tags), p=w / w.sum()))][5:].split("|")
    extra = {**cand["extra_meta"], "absent_category": cat, "absent_name": f"the {size} {colour} {cat}"}
    return {**cand, "label": f"absent:{cat}", "extra_meta": extra}


def visible_pool(ctx, seg, exclude: set[int]) -> list[int]:
    return [o for o in ctx.visible_ids(seg) if o not in exclude]


def pick(rng, pool: Sequence[int], k: int) -> list[int]:
    return [pool[int(i)] for i in rng.permutation(len(pool))[:k]]


def category_of(scene, oid: int) -> str:
    return scene.objects[scene.object_index(oid)].category
