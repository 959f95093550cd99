"""Motion programs: drawing an object's motion (scripted translations, agents' drives and
turns, spins, physics starts) so that the label it gives, read from the first camera as the
engine reads it (docs/labels.md), is clear of the dead bands."""

from __future__ import annotations


import numpy as np

from qa4d.sources.sim.motion import heading_of
from qa4d.sources.sim.spec import Motion, ObjectSpec

# Scripted translations: (label, lateral, radial) unit components relative to the first camera
# (lateral + = right, radial + = away along the line of sight); up/down are vertical.
TRANSLATIONS: tuple[tuple[str, float, float], ...] = (
    ("left", -1, 0), ("right", 1, 0), ("towards", 0, -1), ("away", 0, 1), ("up", 0, 0), ("down", 0, 0),
    ("left+towards", -1, -1), ("right+towards", 1, -1), ("left+away", -1, 1), ("right+away", 1, 1),
)
# Deck order of TRANSLATIONS: single directions twice as often as diagonals, since pushed,
# rolling and colliding objects and driving agents mostly add diagonal ones.
TRANSLATION_DECK = (0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 7, 8, 9)
# The horizontal single directions (indices into TRANSLATIONS).
HORIZONTAL = tuple(i for i, t in enumerate(TRANSLATIONS) if t[0] in ("left", "right", "towards", "away"))
# Agent (move, turn) combinations, dealt evenly: the 3 x 3 labels of the agent_motion task.
AGENT_MOTIONS: tuple[tuple[str, str], ...] = tuple(
    (m, t) for m in ("forward", "backward", "stationary") for t in ("straight", "left", "right")
)
# Margins of the sampled magnitudes against the engine's default bands (thresholds.json): a
# component meant to be present is at least ~1.5x the high band, one meant to be absent is
# exactly zero or below ~0.7x the low band, so no sample lands in a dead band.
DIR_RANGE = (0.15, 0.26)  # translation per component, x the first camera-object distance (band 0.04-0.08)
DIAG_RANGE = (0.12, 0.19)  # per component of a diagonal translation
VERT_RANGE = (0.2, 0.28)  # up/down, x the camera-object distance (also changes that distance by >~ 7%)
SPIN_NONE = 0.2  # share of translating objects that do not spin (static and physics ones add "none")
SPIN_DEG = (60.0, 150.0)  # yaw of spinning/rotating objects (band 15-30 degrees)
GRAVITY = 9.81


def _first_view(cam0: np.ndarray, obj: ObjectSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """The axes the engine measures an object's direction in (docs/labels.md, object_direction):
    the first camera's right axis and the line of sight to the object, both horizontal (2,), and
    the camera-object distance (m)."""
    right = cam0[:2, 0] / np.linalg.norm(cam0[:2, 0])
    centre = np.array([obj.position[0], obj.position[1], obj.position[2] + 0.5 * obj.approx_extent[2]])
    los = centre[:2] - cam0[:2, 3]
    if np.linalg.norm(los) < 1e-6:
        los = cam0[:2, 2].copy()
    return right, los / np.linalg.norm(los), float(np.linalg.norm(centre - cam0[:3, 3]))


def _reads_as(obj: ObjectSpec, cam0: np.ndarray) -> bool:
    """Whether a translation, seen from the first camera, clearly has exactly the components of
    its label (present >= 1.5x the engine's high band of 0.08 x distance, absent <= half its low
    band of 0.04 x distance). Needed where a displacement is reused from another object (convoy)."""
    right, los, dist0 = _first_view(cam0, obj)
    d = np.asarray(obj.motion.displacement)
    comps = {"lateral": float(d[:2] @ right), "radial": float(d[:2] @ los), "vertical": float(d[2])}
    entry = next(t for t in TRANSLATIONS if t[0] == obj.motion.label)
    want = {"lateral": entry[1], "radial": entry[2], "vertical": {"up": 1, "down": -1}.get(entry[0], 0)}
    for axis, sign in want.items():
        v = comps[axis] / dist0
        if (sign == 0 and abs(v) > 0.02) or (sign != 0 and v * sign < 0.12):
            return False
    return True


def _spin(rng: np.random.Generator, p_none: float) -> float:
    """Yaw (degrees) of a spin: none with probability p_none, else cw or ccw equally."""
    u = rng.random()
    if u < p_none:
        return 0.0
    return float(rng.uniform(*SPIN_DEG)) * (1.0 if u < p_none + (1 - p_none) / 2 else -1.0)


def _translation(
    rng: np.random.Generator, obj: ObjectSpec, cam0: np.ndarray, entry: tuple[str, float, float]
) -> Motion:
    """A scripted translation whose components along the engine's axes (lateral = first camera
    right, radial = line of sight, vertical) are exactly the wanted ones: clearly present or zero."""
    label, lat, rad = entry
    right, los, dist0 = _first_view(cam0, obj)
    if label in ("up", "down"):
        d = float(rng.uniform(*VERT_RANGE)) * dist0
        vec = np.array([0.0, 0.0, d if label == "up" else -d])
        if label == "down":
            x, y, _ = obj.position
            obj.position = (x, y, d)  # starts in the air, ends on the ground
    else:
        lo, hi = DIAG_RANGE if lat and rad else DIR_RANGE
        want = np.array([lat * rng.uniform(lo, hi), rad * rng.uniform(lo, hi)]) * dist0
        xy = np.linalg.solve(np.stack([right, los]), want)  # d . right = lateral, d . los = radial
        vec = np.array([xy[0], xy[1], 0.0])
    start, end = float(rng.uniform(0.0, 0.15)), float(rng.uniform(0.85, 1.0))
    yaw = _spin(rng, p_none=SPIN_NONE)
    return Motion(kind="translate", label=label, displacement=tuple(float(v) for v in vec), yaw_deg=yaw, start=start,
                  end=end)


def _agent_motion(rng: np.random.Generator, obj: ObjectSpec, move: str, turn: str, aim: bool = True) -> Motion:
    """An agent's scripted motion with the given (move, turn) in its own frame.

    Driving: 0.7-1.2 m along an arc turning 30-55 degrees (beyond ~90 degrees the chord is mostly
    sideways and reads as neither forward nor backward); backward drives in reverse. Stationary:
    stands still or turns in place by 45-120 degrees."""
    sign = {"straight": 0.0, "left": 1.0, "right": -1.0}[turn]
    if move == "stationary":
        if not sign:
            return Motion()
        yaw = sign * float(rng.uniform(45, 120))
        start, end = float(rng.uniform(0, 0.15)), float(rng.uniform(0.85, 1.0))
        return Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw, start=start, end=end)
    yaw = sign * float(rng.uniform(30, 55))
    dist = float(rng.uniform(0.7, 1.2)) * (1.0 if move == "forward" else -1.0)
    # With `aim`, roughly towards the stage centre (backwards: the back of the agent first) so it
    # stays in view; else any heading.
    to_c = -np.asarray(obj.position[:2]) * (1.0 if move == "forward" else -1.0)
    if aim and np.linalg.norm(to_c) > 0.3:
        h = np.degrees(np.arctan2(to_c[1], to_c[0])) + rng.uniform(-40, 40)
    else:
        h = rng.uniform(-180, 180)
    h0 = heading_of(obj, 0.0)
    obj.yaw_deg = float(h - np.degrees(np.arctan2(h0[1], h0[0])) - yaw / 2)
    names = {"straight": "straight", "left": "turn_left", "right": "turn_right"}
    label = names[turn] if move == "forward" else f"backward_{names[turn]}".replace("backward_straight", "backward")
    return Motion(kind="agent", label=label, yaw_deg=yaw, distance=dist)


def _draw_motion(rng, kind, obj, objects, cam0, duration) -> Motion | None:
    if kind == "static":
        return Motion()
    if kind == "rotate":
        yaw = float(rng.uniform(*SPIN_DEG)) * (1 if rng.random() < 0.5 else -1)
        start, end = float(rng.uniform(0, 0.15)), float(rng.uniform(0.85, 1.0))
        return Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw, start=start, end=end)
    if kind == "falling":
        x, y, _ = obj.position
        obj.position = (x, y, float(rng.uniform(0.5, 1.2)))
        return Motion(kind="falling", label="falling", angular_velocity=tuple(rng.normal(0, 2.0, 3)), friction=0.6)
    if kind in ("pushed", "rolling"):
        to_c = -np.asarray(obj.position[:2])
        if np.linalg.norm(to_c) > 0.3:  # roughly towards the stage centre, so it stays in view
            a = np.arctan2(to_c[1], to_c[0]) + rng.uniform(-0.8, 0.8)
        else:
            a = rng.uniform(-np.pi, np.pi)
        dvec = np.array([np.cos(a), np.sin(a), 0.0])
        d = float(rng.uniform(0.5, 1.2))
        if kind == "pushed":
            mu = 0.3
            v = np.sqrt(2 * mu * GRAVITY * d)  # slides d metres before friction stops it
            return Motion(kind="pushed", label="pushed", velocity=tuple(v * dvec), friction=mu)
        v = min(d / max(duration * 0.8, 1e-3), 2.5)  # rolls about d metres during the clip
        r = 0.5 * obj.approx_extent[2]
        w = np.cross([0, 0, 1.0], dvec) * (v / r)  # rolling without slipping
        return Motion(kind="rolling", label="rolling", velocity=tuple(v * dvec), angular_velocity=tuple(w), friction=0.8)
    if kind == "colliding":
        others = [
            o for o in objects if o.id != obj.id and o.motion.kind == "static" and not o.is_agent and o.position[2] == 0
        ]
        if not others:
            return None
        tgt = min(others, key=lambda o: np.linalg.norm(np.subtract(o.position[:2], obj.position[:2])))
        delta = np.subtract(tgt.position[:2], obj.position[:2])
        dist = float(np.linalg.norm(delta))
        if dist > 1.6:
            return None
        dvec = np.array([delta[0] / dist, delta[1] / dist, 0.0])
        mu = 0.3
        v = float(np.clip(np.sqrt(2 * mu * GRAVITY * (dist + 0.5)), 1.0, 4.0))
        tgt.motion = Motion(kind="struck", label="struck", friction=mu, target=obj.id)
        return Motion(kind="colliding", label="colliding", velocity=tuple(v * dvec), friction=mu, target=tgt.id)
    raise ValueError(f"unknown motion kind {kind!r}")
