"""Discrete labels from continuous measurements, with dead bands, and their phrasing.

Every label function returns a canonical label (see docs/labels.md) or None when a measurement is
too close to a decision boundary to be unambiguous (inside a dead band) or unknown (NaN): the
caller then drops the sample instead of emitting a doubtful label.

All numbers live in thresholds.json next to this file (read by qa4d.engine.thresholds): a "default" block and per-source blocks
("sources": {"sim": {...}}) that override it, selected by the scene's `source`. Phrases for each
label live in vocab.json.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qa4d.engine.kinds.comparison import compare_label
from qa4d.engine.thresholds import Band, ThresholdsError, load_thresholds_file

__all__ = [
    "CAMERA_MOVEMENT_LABELS",
    "DIRECTION_LABELS",
    "DISTANCE_CHANGE_LABELS",
    "ROTATION_LABELS",
    "AGENT_MOVE_LABELS",
    "AGENT_TURN_LABELS",
    "Thresholds",
    "ThresholdsError",
    "agent_motion_label",
    "camera_movement_label",
    "compare_label",
    "describe",
    "direction_label",
    "distance_change_label",
    "distance_turns_clearly_false",
    "load_thresholds",
    "load_vocab",
    "rotation_label",
    "vocabulary",
]

THRESHOLDS_FILE = Path(__file__).with_name("thresholds.json")
VOCAB_FILE = Path(__file__).with_name("vocab.json")

# Canonical vocabularies, in the order labels are listed.
CAMERA_MOVEMENT_LABELS = (
    "left", "right", "up", "down", "forward", "backward",
    "pan_left", "pan_right", "tilt_up", "tilt_down", "roll_cw", "roll_ccw",
)
DIRECTION_LABELS = ("left", "right", "up", "down", "towards", "away")
DISTANCE_CHANGE_LABELS = ("increasing", "decreasing", "constant")
ROTATION_LABELS = ("clockwise", "counterclockwise", "none")
AGENT_MOVE_LABELS = ("forward", "backward", "stationary")
AGENT_TURN_LABELS = ("left", "right", "straight")
STATIC = "static"



@dataclass(frozen=True)
class Thresholds:
    """All decision thresholds of the engine; see thresholds.json `_doc` and docs/labels.md.

    Fields typed `Band` are dead bands (low, high): clearly below at |v| <= low, clearly above at
    |v| >= high, undecided in between.
    """

    camera_translation_rel: Band
    camera_translation_m: Band
    camera_rotation_deg: Band
    camera_static_path_factor: float
    camera_max_pitch_deg: float
    distance_change_rel: Band
    distance_monotonic_tol: float
    distance_floor_m: float
    rotation_deg: Band
    rotation_max_tilt_deg: float
    direction_rel: Band
    direction_m: Band
    agent_translation_rel: Band
    agent_translation_m: Band
    agent_turn_deg: Band
    agent_forward_ratio: float
    compare_rel: Mapping[str, float]
    static_m: float
    static_deg: float
    moving_m: float
    min_visible_fraction: float
    min_mask_pixels: int
    source: str = field(default="default", compare=False)

    def compare(self, task: str) -> float:
        """Relative dead band of `compare_label` for a task."""
        try:
            return float(self.compare_rel[task])
        except KeyError:
            raise KeyError(
                f"{THRESHOLDS_FILE.name}: compare_rel has no entry for task {task!r} "
                f"(known: {sorted(self.compare_rel)})"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (for recording the thresholds a dataset was made with)."""
        d = asdict(self)
        d["compare_rel"] = dict(self.compare_rel)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def load_thresholds(
    source: str = "default",
    overrides: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
) -> Thresholds:
    """Thresholds for scenes of `source`: default block <- sources[source] <- `overrides`.

    A source without its own block gets the defaults. `path` replaces this family's
    thresholds.json. Raises ThresholdsError naming the file, block and key on bad data.
    """
    return load_thresholds_file(path or THRESHOLDS_FILE, source, overrides, Thresholds)


# ----------------------------------------------------------------------------- deciding


def _decide(value: float, band: Band) -> int | None:
    """1 if |value| is clearly above the band, 0 if clearly below, None inside it or NaN."""
    if value is None or not math.isfinite(value):
        return None
    a = abs(value)
    if a <= band[0]:
        return 0
    if a >= band[1]:
        return 1
    return None


def _scaled(band: Band, k: float) -> Band:
    return (band[0] * k, band[1] * k)


def _signed(value: float, band: Band, positive: str, negative: str, out: list[str]) -> bool:
    """Append the signed component's label if clearly present; False if undecided."""
    d = _decide(value, band)
    if d is None:
        return False
    if d == 1:
        out.append(positive if value > 0 else negative)
    return True


def _ordered(labels: list[str], vocabulary: Sequence[str]) -> list[str]:
    return sorted(labels, key=vocabulary.index)


def camera_movement_label(m: Mapping[str, Any], th: Thresholds) -> list[str] | None:
    """Camera movement labels from `measure.camera_motion`, in the first frame's camera axes.

    Translation (x right, y down, z forward of the first camera) against `camera_translation_rel`
    times the scene scale (or `camera_translation_m` when the scale is unknown); pan (+ left),
    tilt (+ up) and roll (+ counter-clockwise as seen by the camera) against `camera_rotation_deg`.
    Returns the present components in vocabulary order, ["static"] when every component is clearly
    absent and the path and summed rotation are small too, or None when any component is in its
    dead band, the camera looks too steeply up/down, or the camera moved but came back.
    """
    scale = m.get("scale", float("nan"))
    if scale is not None and math.isfinite(scale) and scale > 0:
        tband = _scaled(th.camera_translation_rel, scale)
    else:
        tband = th.camera_translation_m
    rband = th.camera_rotation_deg
    if not math.isfinite(m["max_abs_pitch"]) or m["max_abs_pitch"] > th.camera_max_pitch_deg:
        return None
    x, y, z = m["translation"]
    out: list[str] = []
    ok = (
        _signed(x, tband, "right", "left", out)
        and _signed(y, tband, "down", "up", out)
        and _signed(z, tband, "forward", "backward", out)
        and _signed(m["pan"], rband, "pan_left", "pan_right", out)
        and _signed(m["tilt"], rband, "tilt_up", "tilt_down", out)
        and _signed(m["roll"], rband, "roll_ccw", "roll_cw", out)
    )
    if not ok:
        return None
    if out:
        return _ordered(out, CAMERA_MOVEMENT_LABELS)
    f = th.camera_static_path_factor
    if m["distance"] <= f * tband[0] and m["rotation_path"] <= f * rband[0]:
        return [STATIC]
    return None  # moved or turned and came back: neither a motion label nor "static"


def distance_change_label(series: Sequence[float] | np.ndarray, th: Thresholds) -> str | None:
    """How a distance changes over a segment: "increasing", "decreasing", "constant" or None.

    series: (F,) distances (NaN entries are skipped). The relative change r = (last - first) /
    max(first, distance_floor_m) is decided against `distance_change_rel`. "increasing" also
    needs the series never to fall more than `distance_monotonic_tol` (relative) below its running
    maximum, "decreasing" never to rise that much above its running minimum; "constant" needs
    every value within the high band of the first. Anything else is None.
    """
    s = np.asarray(series, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) < 2:
        return None
    ref = max(float(s[0]), th.distance_floor_m)
    rel = (s - s[0]) / ref
    d = _decide(float(rel[-1]), th.distance_change_rel)
    if d is None:
        return None
    if d == 0:
        return "constant" if np.abs(rel).max() < th.distance_change_rel[1] else None
    tol = th.distance_monotonic_tol
    if rel[-1] > 0:
        return "increasing" if (np.maximum.accumulate(rel) - rel).max() <= tol else None
    return "decreasing" if (rel - np.minimum.accumulate(rel)).max() <= tol else None


# Statements about a distance that turns (rises then falls, or falls then rises). They are never
# labels (a monotonic rule decides the label); the 4DP-QA-Bench preset offers one as the fourth
# option of a distance-change question when the measured series shows it is clearly false.
DISTANCE_TURN_STATEMENTS = ("increasing_then_decreasing", "decreasing_then_increasing")


def _largest_turn(rel: np.ndarray) -> float:
    """Largest min(rise into k, fall after k) over k: how clearly a series rises then falls.

    rel: (F,) finite values. Rise into k: rel[k] - min(rel[:k+1]); fall after k: rel[k] - min(rel[k:]).
    """
    rise = rel - np.minimum.accumulate(rel)
    fall = rel - np.minimum.accumulate(rel[::-1])[::-1]
    return float(np.minimum(rise, fall).max())


def distance_turns_clearly_false(series: Sequence[float] | np.ndarray, th: Thresholds) -> list[str]:
    """The DISTANCE_TURN_STATEMENTS that are clearly false for a distance series.

    series: (F,) distances (NaN entries skipped), normalised like `distance_change_label`
    (relative to max(first, distance_floor_m)). "increasing_then_decreasing" is clearly false when
    no rise followed by a fall exceeds the low band of `distance_change_rel` (both legs must be
    larger for the statement to hold); "decreasing_then_increasing" likewise with the series negated.
    """
    s = np.asarray(series, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) < 2:
        return []
    rel = (s - s[0]) / max(float(s[0]), th.distance_floor_m)
    low = th.distance_change_rel[0]
    out = []
    if _largest_turn(rel) <= low:
        out.append("increasing_then_decreasing")
    if _largest_turn(-rel) <= low:
        out.append("decreasing_then_increasing")
    return out


def rotation_label(deg: float, th: Thresholds, tilt: float | None = None) -> str | None:
    """Rotation seen from above from `measure.object_rotation`'s cumulative yaw (degrees, + = CCW).

    "counterclockwise" / "clockwise" when |deg| is clearly above `rotation_deg`, "none" when
    clearly below, None inside the band, or when `tilt` (if given) exceeds rotation_max_tilt_deg.
    """
    if tilt is not None and not (math.isfinite(tilt) and tilt <= th.rotation_max_tilt_deg):
        return None
    d = _decide(deg, th.rotation_deg)
    if d is None:
        return None
    if d == 0:
        return "none"
    return "counterclockwise" if deg > 0 else "clockwise"


def direction_label(d: Mapping[str, float], th: Thresholds) -> list[str] | None:
    """Object direction labels from `measure.object_direction`, relative to the first viewpoint.

    Components lateral (+ right), vertical (+ up along world up) and radial (+ away) against the
    band max(direction_m, direction_rel * distance0). Returns present components in vocabulary
    order (left right up down towards away), ["static"] when all are clearly absent and the path
    is below camera_static_path_factor * low, or None.
    """
    dist0 = d.get("distance0", float("nan"))
    band = th.direction_m
    if dist0 is not None and math.isfinite(dist0):
        rel = _scaled(th.direction_rel, dist0)
        band = (max(band[0], rel[0]), max(band[1], rel[1]))
    out: list[str] = []
    ok = (
        _signed(d["lateral"], band, "right", "left", out)
        and _signed(d["vertical"], band, "up", "down", out)
        and _signed(d["radial"], band, "away", "towards", out)
    )
    if not ok:
        return None
    if out:
        return _ordered(out, DIRECTION_LABELS)
    path = d.get("path", 0.0)
    if path is not None and math.isfinite(path) and path <= th.camera_static_path_factor * band[0]:
        return [STATIC]
    return None


def agent_motion_label(m: Mapping[str, float], th: Thresholds) -> dict[str, str] | None:
    """Agent motion in its own frame from `measure.agent_motion`: {"move": ..., "turn": ...}.

    move: "forward"/"backward" when |forward| is clearly above the band (`agent_translation_rel`
    body lengths, or `agent_translation_m` without a size) and |forward| >= agent_forward_ratio *
    |left|; "stationary" when the path length is clearly below the band. turn: "left"/"right"
    (+ yaw = left) when |yaw| is clearly above `agent_turn_deg`, "straight" when clearly below.
    None when either part is undecided (including mostly sideways motion).
    """
    size = m.get("size", float("nan"))
    band = _scaled(th.agent_translation_rel, size) if size is not None and math.isfinite(size) and size > 0 else (
        th.agent_translation_m
    )
    fwd, left, path = m["forward"], m["left"], m["path"]
    if not all(v is not None and math.isfinite(v) for v in (fwd, left, path)):
        return None
    if _decide(path, band) == 0:
        move = "stationary"
    elif _decide(fwd, band) == 1 and abs(fwd) >= th.agent_forward_ratio * abs(left):
        move = "forward" if fwd > 0 else "backward"
    else:
        return None
    t = _decide(m["yaw"], th.agent_turn_deg)
    if t is None:
        return None
    turn = "straight" if t == 0 else ("left" if m["yaw"] > 0 else "right")
    return {"move": move, "turn": turn}


# ----------------------------------------------------------------------------- phrasing

# Which vocab.json group phrases each task's labels.
_TASK_KIND = {
    "camera_movement": "camera_movement",
    "camera_object_distance_change": "distance_change",
    "object_object_distance_change": "distance_change",
    "object_rotation": "rotation",
    "object_direction": "direction",
    "agent_motion": "agent_motion",
}


@lru_cache(maxsize=1)
def load_vocab() -> dict[str, dict[str, list[str]]]:
    """vocab.json: group -> canonical label -> phrases (3rd-person verb phrases)."""
    try:
        data = json.loads(VOCAB_FILE.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ThresholdsError(f"{VOCAB_FILE}: cannot read ({e})") from e
    return {k: v for k, v in data.items() if not k.startswith("_")}


def vocabulary(kind: str) -> tuple[str, ...]:
    """Canonical labels of a vocab group (or of a task's group), in canonical order."""
    group = load_vocab()[_TASK_KIND.get(kind, kind)] if kind != "agent_motion" else None
    if group is None:
        raise KeyError("agent_motion labels are dicts; use vocabulary('agent_move') / vocabulary('agent_turn')")
    return tuple(group)


def _pick(phrases: Sequence[str], rng: np.random.Generator | None) -> str:
    return phrases[0] if rng is None else phrases[int(rng.integers(len(phrases)))]


def _join(parts: list[str]) -> str:
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def describe(task: str, label: Any, rng: np.random.Generator | None = None) -> str:
    """Natural-language phrase of a canonical label for a task, for {label} slots and options.

    A 3rd-person verb phrase that follows the question's subject ("the camera", "the distance
    between ...", "{obj}"). Lists of components are joined with commas and "and"; agent labels
    combine the "agent_move" and "agent_turn" phrases. With `rng` a phrasing is drawn at random,
    without it the first (canonical) phrasing is used.
    """
    vocab = load_vocab()
    if task not in _TASK_KIND:
        raise KeyError(f"describe: task {task!r} has no descriptive labels (known: {sorted(_TASK_KIND)})")
    kind = _TASK_KIND[task]
    try:
        if kind == "agent_motion":
            return f"{_pick(vocab['agent_move'][label['move']], rng)} {_pick(vocab['agent_turn'][label['turn']], rng)}"
        group = vocab[kind]
        if kind == "distance_change" and isinstance(label, str) and label in DISTANCE_TURN_STATEMENTS:
            group = vocab["distance_turns"]
        if isinstance(label, str):
            return _pick(group[label], rng)
        return _join([_pick(group[part], rng) for part in label])
    except (KeyError, TypeError):
        raise KeyError(f"describe: {label!r} is not a label of task {task!r} ({VOCAB_FILE.name}: {kind})") from None
