"""The r4d tasks: the vlm4d and sti tasks, their objects referred to by Set-of-Marks marks, plus
counting over marks and rotational / false-positive option sets in which every option can be right.

`Marked` goes before a vlm4d / sti task class: phase 1 keeps the parent's candidates (measurement,
label, dead bands, options all the parent's) and, for each, draws a numbered mark per object asked
about at its innermost mask pixel (`measure.object_pixel`) on the first shown frame, which is shown
twice: marked (image 1, `meta.som_image`) and plain (image 2, the video's first frame). A candidate
whose object is not seen on that frame, or whose marks would overlap, is dropped, and so is one
about no object of the scene (an absent category, a count over all objects): a mark cannot point
at nothing. The audit adds
to the parent's checks that every mark is where the scene puts it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa4d.engine import measure
from qa4d.engine.draw import COLOUR_NAMES, mark_radius
from qa4d.engine.families.sti.motion import DisplacementPathLength as _STIDisplacement
from qa4d.engine.families.sti.motion import SpeedAcceleration as _STISpeed
from qa4d.engine.families.sti.static import DimensionMeasurement as _STIDimension
from qa4d.engine.families.sti.static import SpatialRelationship as _STISpatial
from qa4d.engine.families.sti.static import VideoGrounding as _STIGrounding
from qa4d.engine.families.vlm4d._base import DIRECTIONS, VLM4DTask, direction, pick, spin, translates, visible_pool
from qa4d.engine.families.vlm4d.false_positive import still
from qa4d.engine.families.vlm4d.translational import Translational as _VLM4DTranslational
from qa4d.engine.registry import register_task
from qa4d.engine.writer import prompt_media_path

FAMILY = "r4d"


@lru_cache(maxsize=1)
def vocab() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "vocab.json").read_text(encoding="utf-8"))


def marks(scene, objects, frame: int, min_pixels: int) -> list[dict[str, Any]] | None:
    """Mark references (mode "mark", label k = 1, 2, ... in question order, drawn on media 0) of
    `objects` at their innermost mask pixel in scene frame `frame`; None when an object has fewer
    than `min_pixels` mask pixels there or two marks would overlap. x, y: the centre normalised to
    the image (W, H); cx, cy, r: pixels."""
    w, h = int(scene.meta.width), int(scene.meta.height)
    r = mark_radius(w, h)
    out = []
    for k, oid in enumerate(objects, 1):
        px = measure.object_pixel(scene, scene.object_index(int(oid)), int(frame), min_pixels=min_pixels)
        if px is None:
            return None
        out.append({"kind": "object", "object": int(oid), "mode": "mark", "label": k, "media": 0,
                    "x": round(float(px[0]) / w, 6), "y": round(float(px[1]) / h, 6),
                    "cx": float(px[0]), "cy": float(px[1]), "r": round(r, 2), "colour": COLOUR_NAMES[k - 1]})
    c = np.array([[m["cx"], m["cy"]] for m in out])
    if len(c) > 1 and min(np.linalg.norm(c[i] - c[j]) for i in range(len(c)) for j in range(i)) < 2 * r:
        return None
    return out


def regions(refs) -> dict[str, dict[str, Any]]:
    """meta.regions: obj_k -> {"object_id", "x", "y"} (the mark's centre normalised to the image)."""
    return {f"obj_{m['label']}": {"object_id": m["object"], "x": m["x"], "y": m["y"]} for m in refs}


class Marked:
    """Mixin (before a vlm4d / sti task class): Set-of-Marks references on the first shown frame."""

    family = FAMILY

    def candidates(self, ctx):
        out = []
        for cand in super().candidates(ctx):
            if not cand["objects"] or (cand.get("extra_meta") or {}).get("absent_category"):
                ctx.skip(self.name, "no object to mark (absent category, or a count over the scene)")
                continue
            f0 = int(cand["frame_indices"][0])
            refs = marks(ctx.scene, cand["objects"], f0, ctx.min_mask_pixels)
            if refs is None:
                ctx.skip(self.name, "an object has no clear mark on the first shown frame")
                continue
            cand = {**cand, "refs": refs, "frame_indices": [f0] + list(cand["frame_indices"]),
                    "timestamps": [cand["timestamps"][0]] + list(cand["timestamps"])}
            out.append(cand)
        return out

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        out["question"] = f"{vocab()['intro']} {out['question']}"
        out["meta"].update(regions=regions(cand["refs"]), reference="set_of_marks",
                           som_image=prompt_media_path(cand["scene_id"], f"{FAMILY}/{cand['uid']}", 0))
        return out

    def check(self, record, scene, thresholds):
        problems = list(super().check(record, scene, thresholds))
        meta = record["meta"]
        fi = record.get("frame_indices") or []
        if len(fi) < 2 or fi[0] != fi[1]:
            problems.append("the marked image is not the first shown frame repeated")
            return problems
        want = marks(scene, meta.get("objects", []), fi[0], int(getattr(thresholds, "min_mask_pixels", 20)))
        if want is None:
            return problems + ["an object has no clear mark on the first shown frame"]
        got = meta.get("regions") or {}
        if set(got) != {f"obj_{m['label']}" for m in want}:
            problems.append(f"meta.regions names {sorted(got)}, expected obj_1..obj_{len(want)}")
        for k, exp in regions(want).items():
            g = got.get(k) or {}
            if g.get("object_id") != exp["object_id"] or any(abs(float(g.get(a, np.nan)) - exp[a]) > 1e-6 or
                                                              not np.isfinite(float(g.get(a, np.nan))) for a in "xy"):
                problems.append(f"meta.regions.{k} is {g!r}, the scene gives {exp!r}")
        media = record.get("media") or []
        if not media or meta.get("som_image") != media[0]:
            problems.append(f"meta.som_image {meta.get('som_image')!r} is not the first image {media[:1]!r}")
        for k in got:
            if f"<{k}>" not in record.get("question", ""):
                problems.append(f"the question does not name <{k}>")
        return problems


@register_task
class Translational(Marked, _VLM4DTranslational):
    category = "translational"


@register_task
class DimensionMeasurement(Marked, _STIDimension):
    category = "dimension_measurement"


@register_task
class DisplacementPathLength(Marked, _STIDisplacement):
    category = "displacement_path_length"


ROTATION_KEYS = ("ccw", "cw", "still_no_spin", "moving_no_spin")


def rotation_label(scene, oid: int, frames, th) -> str | None:
    """ccw / cw (a clear spin about the vertical, `vlm4d._base.spin`), or for an object whose
    orientation never strays more than `spin_static_deg`: moving_no_spin when it translates
    (largest distance from its first centre >= the high `translate_m`), still_no_spin when it does
    not (<= the low one); None when any of it is too close to call."""
    s = spin(scene, oid, frames, th)
    if s is None or s in ("ccw", "cw"):
        return s
    t = translates(scene, oid, frames, th)
    return None if t is None else "moving_no_spin" if t else "still_no_spin"


@register_task
class Rotational(Marked, VLM4DTask):
    """Which way the marked object spins about its vertical axis, seen from above, if at all. The
    four options are always clockwise / counter-clockwise / "not spinning, and staying in place" /
    "moving without spinning": four mutually exclusive statements, each the answer of a quarter of
    the questions (labels balanced), so no option is there only to be wrong. (VLM4D's own set has
    "no <object> there" as the fourth, which a mark can never make true: kept, it would be a
    free elimination for a model; so would "not spinning" if only spinning objects were asked.)"""

    name = "rotational"
    category = "rotational"
    caption_only = False   # a mark needs no unique caption

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            lab = rotation_label(ctx.scene, oid, frames, ctx.thresholds)
            if lab is None:
                ctx.skip(self.name, "no clear spin, or not clearly moving / still")
                continue
            out.append({"objects": [oid], "label": lab, "option_keys": [k for k in ROTATION_KEYS if k != lab],
                        "meta": {"reference": "above", **({"fp": lab} if lab.endswith("no_spin") else {})}})
        return out

    def truth(self, scene, record, frames, th):
        return rotation_label(scene, record["meta"]["objects"][0], frames, th)


FP_KEYS = ("not_moving",) + DIRECTIONS


@register_task
class FalsePositive(Marked, VLM4DTask):
    """Only the "did not happen" kind: does the marked object move, and which way? "not moving"
    when it never leaves its first place (<= the low `translate_m`) nor turns; objects moving
    clearly in one direction (the `translational` label: left, right, towards / away from the
    camera, up, down) are the controls. Labels are balanced and the three distractors are drawn
    among the other answers with their frequencies (as in `translational`), so every option is
    the answer of its share of the questions; "no <object> there" is never offered (a mark cannot
    point at nothing, so it could never be right)."""

    name = "false_positive"
    category = "false_positive"
    caption_only = False

    def items(self, ctx, seg, frames, rng, exclude):
        sc, th = ctx.scene, ctx.thresholds
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            lab = self.truth(sc, {"meta": {"objects": [oid]}}, frames, th)
            if lab is None:
                ctx.skip(self.name, "neither still nor one clear direction")
                continue
            out.append({"objects": [oid], "label": lab, "valid_keys": [k for k in FP_KEYS if k != lab],
                        "meta": {"fp": "not_moving" if lab == "not_moving" else "control"}})
        return out

    def truth(self, scene, record, frames, th):
        oid = record["meta"]["objects"][0]
        s = still(scene, oid, frames, th)
        return None if s is None else "not_moving" if s else direction(scene, oid, frames, th)


@register_task
class VideoGrounding(Marked, _STIGrounding):
    category = "video_grounding"


@register_task
class SpatialRelationship(Marked, _STISpatial):
    category = "spatial_relationship"


@register_task
class SpeedAcceleration(Marked, _STISpeed):
    category = "speed_acceleration"


# ------------------------------------------------------------------------------ counting

COUNT_MARKS = 3                                    # marked objects per counting question
COUNTS = tuple(range(COUNT_MARKS + 1))             # the four options: 0, 1, 2, 3
MOTIONS = ("translating", "rotating")


def in_class(scene, oid: int, motion: str, frames, th) -> bool | None:
    """Does the object translate (largest distance from its first centre >= the high
    `translate_m`; not when <= the low one) or spin about the vertical (`spin`: a clear turn of a
    non-round object; not when it never turns more than `spin_static_deg`)? None: too close to call."""
    if motion == "translating":
        return translates(scene, oid, frames, th)
    s = spin(scene, oid, frames, th)
    return None if s is None else s != "not_spinning"


@register_task
class Counting(Marked, VLM4DTask):
    """How many of the marked objects <obj_1>, <obj_2>, <obj_3> translate, or spin about their
    vertical axis, during the clip: R4D-Bench's counting category as a region question. Every
    marked object is clearly in or clearly out of the class (dead bands of `in_class`); the answer
    is drawn uniformly among the counts the segment can give (then balanced per motion and count),
    and the four options are always 0, 1, 2 and 3, so neither an option nor its rank tells the
    answer. The camera's carrier is never marked."""

    name = "counting"
    category = "counting"
    caption_only = False

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        pool = visible_pool(ctx, seg, exclude)
        for motion in MOTIONS:
            klass = {o: in_class(ctx.scene, o, motion, frames, ctx.thresholds) for o in pool}
            yes = [o for o in pool if klass[o] is True]
            no = [o for o in pool if klass[o] is False]
            lo, hi = max(0, COUNT_MARKS - len(no)), min(COUNT_MARKS, len(yes))
            if lo > hi:
                ctx.skip(self.name, f"{motion}: fewer than {COUNT_MARKS} objects clearly in or out of the class")
                continue
            n = int(rng.integers(lo, hi + 1))
            objs = pick(rng, yes, n) + pick(rng, no, COUNT_MARKS - n)
            objs = [objs[int(i)] for i in rng.permutation(len(objs))]
            out.append({"objects": objs, "label": f"n:{n}", "key": f"{motion}:{n}",
                        "option_keys": [f"n:{k}" for k in COUNTS if k != n],
                        "meta": {"motion": motion, "style": f"counting_{motion}"}})
        return out

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        flags = [in_class(scene, int(o), meta["motion"], frames, th) for o in meta["objects"]]
        if len(flags) != COUNT_MARKS or None in flags:
            return None
        return f"n:{sum(flags)}"

    def wrong(self, scene, record, key, true, frames, th):
        return key != true and key in {f"n:{k}" for k in COUNTS}
