"""Static STI tasks: dimension measurement, spatial relationship, 3D video grounding.

Sizes come from object_extent (the box in the object's own frame, centred on its origin), places
from object_to_world and the camera of the stated frame (cam_to_world), made level: right = the
camera's x axis made horizontal, forward = up x right, up = world up (docs/families/sti.md).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from qa4d.engine.families.sti._base import LETTERS, NumericSTITask, Skip, STITask, pick_frames
from qa4d.engine.families.sti._geom import boxes_differ, level_frame, relative_components, tilt_deg, yaw_in_frame
from qa4d.engine.registry import register_task


def _pose(scene: Any, oid: int, frame: int) -> np.ndarray:
    return np.asarray(scene.object_to_world[scene.object_index(oid)][frame], dtype=np.float64)


def _frame_at(scene: Any, frame: int) -> np.ndarray | None:
    return level_frame(np.asarray(scene.cam_to_world[frame], dtype=np.float64), scene.world_up)


@register_task
class DimensionMeasurement(NumericSTITask):
    """The longest side or the height of an object's box (cm), or the distance between the
    centres of two objects' boxes at a stated time (m)."""

    name = "dimension_measurement"
    category = "static"
    requires = ("object_to_world", "object_extent")
    n_objects = 2
    sizes = ("longest_side", "height")

    def times(self, ctx, seg, rng):
        return pick_frames(ctx.media(seg), rng, 1)

    def extra_item(self, ctx, seg, objs, rng):
        q = ("size", "distance")[int(rng.integers(2))]
        if q == "distance":
            return {"quantity": q, "unit": "m", "decimals": 2}
        return {"quantity": q, "unit": "cm", "decimals": 0, "objects": [int(objs[0])],
                "size": self.sizes[int(rng.integers(2))]}

    def key_of(self, item, value):
        return item.get("size", item["quantity"])

    def measure(self, scene, item, th):
        frame = item["frames"][0]
        if item["quantity"] == "distance":
            a, b = (_pose(scene, o, frame)[:3, 3] for o in item["objects"])
            d = float(np.linalg.norm(a - b))
            return d if np.isfinite(d) and d >= float(th.min_distance_m) else None
        k = scene.object_index(item["objects"][0])
        ext = np.asarray(scene.object_extent[k], dtype=np.float64)
        if not np.isfinite(ext).all():
            return None
        if item["size"] == "longest_side":
            return 100.0 * float(ext.max())
        if tilt_deg(_pose(scene, item["objects"][0], frame)[:3, :3], scene.world_up) > float(th.max_tilt_deg):
            return None  # height is the box's z size only for an upright object
        return 100.0 * float(ext[2])


# A relation states all three components of the offset A - B in the levelled frame (right,
# forward, up): -1 / +1 a clear offset that way, 0 about level. Its key reads "x,y,z" with the
# words below, e.g. "left,farther,level"; every option has the same three-part form.
AXIS_WORDS = ({-1: "left", 0: "centred", 1: "right"}, {-1: "nearer", 0: "level", 1: "farther"},
              {-1: "lower", 0: "level", 1: "higher"})
AXIS_PHRASES = ({-1: "to the left", 0: "neither left nor right", 1: "to the right"},
                {-1: "closer to the camera", 0: "at about the same distance from the camera",
                 1: "farther from the camera"},
                {-1: "lower", 0: "at about the same height", 1: "higher"})
RELATIONS = {
    ",".join(AXIS_WORDS[i][v] for i, v in enumerate((x, y, z))): (x, y, z)
    for x in (-1, 0, 1) for y in (-1, 0, 1) for z in (-1, 0, 1) if (x, y, z) != (0, 0, 0)
}


def relation_phrase(label: str) -> str:
    return ", ".join(AXIS_PHRASES[i][v] for i, v in enumerate(RELATIONS[label]))


def _sign(c: float, low: float, high: float) -> int | None:
    """+1 / -1 for a clear offset (|c| >= high), 0 for level (|c| <= low), None in between."""
    if abs(c) <= low:
        return 0
    if abs(c) >= high:
        return 1 if c > 0 else -1
    return None


def relation(comps: np.ndarray, th: Any) -> str | None:
    """The relation of A to B from the components (3,) of A - B in the levelled frame (right,
    forward, up), or None when a component is between the bands of `relation_m` or all are level."""
    low, high = (float(v) for v in th.relation_m)
    signs = tuple(_sign(float(c), low, high) for c in comps)
    if None in signs or signs == (0, 0, 0):
        return None
    return next(lab for lab, sg in RELATIONS.items() if sg == signs)


def clearly_false(label: str, comps: np.ndarray, th: Any) -> bool:
    """Does some component contradict what `label` states by more than the dead band?"""
    low, high = (float(v) for v in th.relation_m)
    for sign, c in zip(RELATIONS[label], comps):
        if sign is None:
            continue
        if (sign == 0 and abs(c) >= high) or (sign != 0 and sign * c <= low):
            return True
    return False


@register_task
class SpatialRelationship(STITask):
    """Where one object is relative to another at a stated time, seen from the camera then:
    left/right, nearer/farther and higher/lower at once (each clear or about level)."""

    name = "spatial_relationship"
    category = "static"
    requires = ("object_to_world",)
    n_objects = 2
    balance_mode = "equal"
    phrases = {lab: relation_phrase(lab) for lab in RELATIONS}

    def times(self, ctx, seg, rng):
        return pick_frames(ctx.media(seg), rng, 1)

    def components(self, scene, item) -> np.ndarray | None:
        frame = item["frames"][0]
        lf = _frame_at(scene, frame)
        if lf is None:
            return None
        a, b = (_pose(scene, o, frame)[:3, 3] for o in item["objects"])
        return relative_components(a, b, lf)

    def measure(self, scene, item, th):
        comps = self.components(scene, item)
        return None if comps is None or not np.isfinite(comps).all() else relation(comps, th)

    def key_of(self, item, value):
        return value

    def measurement(self, scene, item, value):
        return {"right_forward_up_m": self.components(scene, item)}

    def answer_text(self, item, value):
        return self.phrases[value]

    def meta_value(self, item, value):
        return {"value": self.phrases[value], "relation": value}

    def option_params(self, item, value, th, scene=None):
        comps = self.components(scene, item)
        return {"false": [lab for lab in RELATIONS if clearly_false(lab, comps, th)]}

    def options(self, item, value, choice, rng, params):
        """4 clearly false relations drawn uniformly among the other relations that are answers of
        the task's selected questions (env.pool), and only when those are too few, uniformly among
        the remaining clearly false ones. Answers are balanced over their relations ("equal"), so the
        5 options are a uniform draw from the answered relations with the answer uniform among them:
        no option word (e.g. "height", when nearly every answer is level) tells the answer."""
        pool = params.get("pool") or {}
        false = [lab for lab in params["false"] if lab != value]
        answered = [lab for lab in false if pool.get(lab, 0) > 0]
        rest = [lab for lab in false if pool.get(lab, 0) <= 0]
        picked = [answered[int(i)] for i in rng.permutation(len(answered))][: self.n_options - 1]
        picked += [rest[int(i)] for i in rng.permutation(len(rest))][: self.n_options - 1 - len(picked)]
        if len(picked) < self.n_options - 1:
            raise Skip("too few clearly false relations")
        picked = [picked[int(i)] for i in rng.permutation(len(picked))]
        labels = picked[:choice] + [value] + picked[choice:]
        return ([self.phrases[lab] for lab in labels],
                {"option_labels": {LETTERS[i]: lab for i, lab in enumerate(labels)}})

    def check_options(self, record, scene, value, th):
        comps = self.components(scene, record["meta"]["item"])
        labels = record["meta"].get("option_labels") or {}
        problems = []
        for letter, text in (record.get("options") or {}).items():
            lab = labels.get(letter)
            if lab not in RELATIONS or self.phrases[lab] != text:
                problems.append(f"option {letter} {text!r} does not match meta.option_labels ({lab!r})")
                continue
            if letter != record["answer"] and not clearly_false(lab, comps, th):
                problems.append(f"option {letter} ({lab}) is not clearly false (offset {np.round(comps, 3).tolist()} m)")
        return problems


@register_task
class VideoGrounding(STITask):
    """The object's 3D box at the first shown frame, as JSON, in that frame's levelled camera frame."""

    name = "video_grounding"
    category = "static"
    requires = ("object_to_world", "object_extent")

    def times(self, ctx, seg, rng):
        return [int(ctx.media(seg)[0])]

    def measure(self, scene, item, th):
        frame = item["frames"][0]
        lf = _frame_at(scene, frame)
        pose = _pose(scene, item["objects"][0], frame)
        ext = np.asarray(scene.object_extent[scene.object_index(item["objects"][0])], dtype=np.float64)
        if lf is None or not np.isfinite(pose).all() or not np.isfinite(ext).all():
            return None
        if tilt_deg(pose[:3, :3], scene.world_up) > float(th.max_tilt_deg):
            return None  # a yaw alone does not describe a tilted box
        cam = np.asarray(scene.cam_to_world[frame], dtype=np.float64)[:3, 3]
        return {"dimensions": [float(v) for v in 100.0 * ext],
                "central_point": [float(v) for v in lf @ (pose[:3, 3] - cam)],
                "yaw": yaw_in_frame(pose[:3, :3], lf)}

    @staticmethod
    def rounded(box: dict[str, Any]) -> dict[str, Any]:
        yaw = int(round(box["yaw"]))
        return {"dimensions": [int(round(v)) for v in box["dimensions"]],
                "central_point": [round(float(v), 2) + 0.0 for v in box["central_point"]],
                "yaw": 180 if yaw == -180 else yaw}

    @classmethod
    def box_text(cls, box: dict[str, Any]) -> str:
        b = cls.rounded(box)
        return json.dumps({"dimensions": b["dimensions"], "central_point": b["central_point"],
                           "orientation": {"yaw": b["yaw"]}})

    @staticmethod
    def parse(text: str) -> dict[str, Any]:
        d = json.loads(text)
        return {"dimensions": d["dimensions"], "central_point": d["central_point"], "yaw": d["orientation"]["yaw"]}

    def answer_text(self, item, value):
        return self.box_text(value)

    def meta_value(self, item, value):
        return {"value": self.box_text(value), "box": self.rounded(value)}

    @staticmethod
    def box_tol(th: Any) -> dict[str, float]:
        return {"dimensions_rel": float(th.box_dimensions_rel), "dimensions_cm": float(th.box_dimensions_cm),
                "central_point_m": float(th.box_center_m), "yaw_deg": float(th.box_yaw_deg)}

    def option_params(self, item, value, th, scene=None):
        return {"tol": self.box_tol(th), "rel": list(th.box_perturb_rel), "m": list(th.box_perturb_m),
                "deg": list(th.box_perturb_deg)}

    def perturbed(self, box: dict[str, Any], p: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """The other value of each field: sizes scaled by 1 +- rel, the centre moved horizontally
        by m metres, the yaw turned by deg degrees (signs at random)."""
        signs = rng.choice([-1.0, 1.0], size=3)
        dims = [d * (1.0 + s * rng.uniform(*p["rel"])) for d, s in zip(box["dimensions"], signs)]
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(*p["m"])
        c = box["central_point"]
        centre = [c[0] + dist * np.cos(ang), c[1] + dist * np.sin(ang), c[2]]
        yaw = (box["yaw"] + rng.choice([-1.0, 1.0]) * rng.uniform(*p["deg"]) + 180.0) % 360.0 - 180.0
        return {"dimensions": dims, "central_point": centre, "yaw": yaw}

    def options(self, item, value, choice, rng, params):
        """Options are 5 of the 8 corners of a cube whose axes are (sizes, centre, yaw), each field
        taking the true or the perturbed value; the true corner is one of the five at random, so
        no field's majority value gives the answer away."""
        alt = self.perturbed(value, params, rng)
        corners = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
        chosen = [corners[int(i)] for i in rng.permutation(8)[: self.n_options]]
        truth = chosen[int(rng.integers(self.n_options))]
        fields = ("dimensions", "central_point", "yaw")
        boxes = []
        for corner in chosen:
            boxes.append({f: (value if bit == tbit else alt)[f] for f, bit, tbit in zip(fields, corner, truth)})
        true_box = boxes.pop(chosen.index(truth))
        boxes.insert(choice, true_box)
        for i, b in enumerate(boxes):
            if i != choice and not boxes_differ(self.rounded(b), value, params["tol"]):
                raise Skip("a grounding distractor is within tolerance of the answer")
        return [self.box_text(b) for b in boxes], {}

    def check_options(self, record, scene, value, th):
        problems = []
        for letter, text in (record.get("options") or {}).items():
            try:
                box = self.parse(text)
            except (ValueError, KeyError, TypeError):
                problems.append(f"option {letter} is not a box as JSON: {text!r}")
                continue
            if letter != record["answer"] and not boxes_differ(box, value, self.box_tol(th)):
                problems.append(f"option {letter} is within tolerance of the true box")
        return problems
