"""Scene kinds that stage one kind of motion with its ground truth (docs/simulator.md).

Each builder draws the objects, their (kinematic, closed-form) motions and the camera of one
scene kind and returns a record that `SceneSpec.summary` writes to scene.json as
`extra.sim[kind]`, so question families read exactly what happened:

- camera_motion: objects translating along the axis of a trucking, dollying or panning camera,
  faster than it, slower, against it, or not at all (the camera's motion alone moves them on
  screen); object, camera and apparent (object minus camera) amounts are recorded.
- spinning: 2-4 objects spinning in place about world up at distinct rates (each 1.6x the next),
  either way, next to objects that do not spin.
- repeated: one object going back and forth, or hopping, a known number of times, or 2-4
  objects starting one after another; counts and times recorded. Turning points fall on frames.
- accelerating: objects under constant acceleration (speeding up or slowing down) next to one
  at constant speed.
- ego: the camera rides on a driving agent (fixed mount, looking forward); the other scene
  kinds and "mixed" scenes have a camera standing in the world.

Every configuration that becomes a label (including the camera slot of world cameras) is dealt
from a deck stratified across the scenes of the kind (`scenario._stratum` over
`scenario.kind_ordinal`); everything else comes from `scene_rng(seed, index)`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from qa4d.sources.sim.captions import assign_captions
from qa4d.sources.sim.scenario import (
    CAMERA_SLOTS,
    DIR_RANGE,
    GRAVITY,
    TRANSLATION_DECK,
    TRANSLATIONS,
    CameraMove,
    CameraSpec,
    Motion,
    ObjectSpec,
    SceneSpec,
    _first_view,
    _path_clear,
    _pick,
    _place,
    _reads_as,
    _sample_camera,
    _sample_props,
    _stratum,
    _translation,
    camera_pose,
    closed_form_object_pose,
    heading_of,
    scene_name,
    scene_rng,
    upright_rotation,
)

YAW_CONVENTION = "yaw about world +z (up); positive = counter-clockwise seen from above (ccw), negative = clockwise (cw)"
# camera_motion: (camera move, sign) and the object's relation to the camera, dealt evenly.
CAMERA_MOTION_SLOTS = (("truck", 1), ("truck", -1), ("dolly", 1), ("dolly", -1), ("pan", 1), ("pan", -1))
RELATIONS = ("faster", "slower", "against", "static")
FASTER = (1.6, 2.0)  # object amount / camera amount, same direction
SLOWER = (0.5, 0.62)
CAM_MOTION_REL = {"truck": (0.18, 0.24), "dolly": (0.22, 0.28)}  # x the camera-target distance (band 0.05-0.1)
CAM_MOTION_PAN_DEG = (15.0, 18.0)  # engine band 5-10 degrees
# spinning: (number of spinning objects, how many of them counter-clockwise)
SPIN_DECK = tuple((n, ccw) for n in (2, 3, 4) for ccw in range(n + 1))
SPIN_RATIO = 1.6  # each spinner's rate is 1.6x the next slower one's
SPIN_TOTAL_DEG = (60.0, 80.0)  # turn of the slowest spinner over the clip (engine band 15-30 degrees)
SPIN_MAX_STEP_DEG = 40.0  # fastest turn per frame, well below aliasing
# repeated: (event, count)
REPEAT_DECK = tuple((e, c) for e in ("oscillate", "hop") for c in (1, 2, 3)) + tuple(("sequence", n) for n in (2, 3, 4))
HOP_SECONDS = (0.45, 0.7)  # duration of one hop
# accelerating: roles dealt in turn to the moving objects of a scene
ROLES = ("speeding_up", "slowing_down", "constant")
EASE = (0.6, 1.0)  # |ease|: final / initial speed (1 + e) / (1 - e) >= 4
HORIZONTAL = tuple(i for i, t in enumerate(TRANSLATIONS) if t[0] in ("left", "right", "towards", "away"))
# ego: (move, turn) of the agent carrying the camera
EGO_DECK = (
    ("forward", "straight"), ("forward", "left"), ("forward", "right"),
    ("stationary", "left"), ("stationary", "right"), ("backward", "straight"),
)
EGO_PITCH_DEG = (12.0, 20.0)  # camera looks down by this much
EGO_ABOVE_M = 0.12  # camera height above the agent's top


class _Stage:
    """What every kind shares: the catalog, the scene's rng, clip timing and object ids."""

    def __init__(self, seed: int, index: int, ordinal: int, num_frames: int, fps: float, cat: dict[str, Any]):
        self.seed, self.index, self.ordinal, self.cat = seed, index, ordinal, cat
        self.rng = scene_rng(seed, index)
        self.num_frames, self.fps = num_frames, fps
        self.intervals = max(num_frames - 1, 1)
        self.duration = self.intervals / fps
        self.objects: list[ObjectSpec] = []
        self.placed: list[tuple[np.ndarray, float]] = []
        self.camera_at: Callable[[float], np.ndarray] | None = None  # s -> cam_to_world (closed form)
        self.camera_gap = 1.0  # objects stay this far (m, horizontally) from the camera
        self.camera_front = True  # and in front of it

    def clear(self, obj: ObjectSpec) -> bool:
        """Whether obj's path is clear of the other objects and of the camera."""
        return _path_clear(obj, self.objects) and self.clear_of_camera(obj)

    def clear_of_camera(self, obj: ObjectSpec, samples: int = 9) -> bool:
        if self.camera_at is None:
            return True
        for s in np.linspace(0.0, 1.0, samples):
            c = self.camera_at(float(s))
            p = closed_form_object_pose(obj, float(s))[:3, 3] - c[:3, 3]
            if np.linalg.norm(p[:2]) < self.camera_gap + obj.radius or (self.camera_front and p @ c[:3, 2] < 0.5):
                return False
        return True

    def deal(self, stream: str, n: int) -> int:
        """A draw in range(n), stratified over the scenes of this kind (by their ordinal)."""
        return _stratum(self.seed, self.ordinal, stream, n)

    def names(self, agent: bool | None = None, spin_clear: bool = False) -> list[str]:
        objs = self.cat["objects"]
        out = [n for n in objs if agent is None or bool(objs[n].get("agent")) == agent]
        return [n for n in out if not (spin_clear and objs[n].get("symmetric_about_up"))]

    def add(self, pool: list[str], xy: np.ndarray | None = None, disc: float = 1.2) -> ObjectSpec:
        """A new object of a random asset from `pool`, placed clear of the others unless `xy`."""
        rng, cat = self.rng, self.cat
        name = _pick(rng, pool, [float(cat["objects"][n].get("weight", 1.0)) for n in pool])
        a = cat["objects"][name]
        scale = float(rng.uniform(*a["scale"]))
        ext = tuple(float(v) * scale for v in a["unit_extent"])
        urdf = a.get("urdf", "")
        if "{index" in urdf:
            urdf = urdf.format(index=int(rng.integers(0, int(a.get("num_variants", 1)))))
        radius = 0.5 * float(np.hypot(ext[0], ext[1]))
        fixed = xy is not None
        if not fixed:
            xy = _place(rng, self.placed, radius, disc=disc)
        self.placed.append((np.asarray(xy, dtype=np.float64), radius))
        obj = ObjectSpec(
            id=len(self.objects) + 1, asset=name, category=a["category"], urdf=urdf,
            primitive=a.get("primitive", ""), scale=scale, colour="", rgba=(1.0, 1.0, 1.0, 1.0),
            keep_texture=bool(a.get("keep_texture", False)),
            upright_rpy_deg=tuple(float(v) for v in a["upright_rpy_deg"]), approx_extent=ext,
            position=(float(xy[0]), float(xy[1]), 0.0), yaw_deg=float(rng.uniform(-180, 180)), motion=Motion(),
            is_agent=bool(a.get("agent", False)),
            forward_axis=tuple(float(v) for v in a.get("forward_axis", (1, 0, 0))),
        )
        self.objects.append(obj)
        for _ in range(30 if not fixed else 0):  # clear of the camera's path as well
            if self.clear_of_camera(obj):
                break
            self.move_to(obj, _place(rng, self.placed[:-1], radius, disc=disc))
        return obj

    def move_to(self, obj: ObjectSpec, xy: np.ndarray) -> None:
        obj.position = (float(xy[0]), float(xy[1]), obj.position[2])
        k = self.objects.index(obj)
        self.placed[k] = (np.asarray(xy, dtype=np.float64), self.placed[k][1])

    def world_camera(self, slot=None) -> tuple[CameraSpec, float]:
        """A camera standing in the world, as in mixed scenes; trajectory from `slot` (default:
        the stratified camera slot of the run). Returns the camera and its azimuth."""
        rng = self.rng
        if slot is None:
            slot = CAMERA_SLOTS[self.deal("camera", len(CAMERA_SLOTS))]
        azim = rng.uniform(-np.pi, np.pi)
        dist = rng.uniform(2.4, 3.4)
        height_m = rng.uniform(1.2, 2.2) + (0.6 if slot[0] == "pedestal" and slot[1] < 0 else 0.0)
        eye = np.array([dist * np.cos(azim), dist * np.sin(azim), height_m])
        target = np.array([rng.normal(0, 0.1), rng.normal(0, 0.1), rng.uniform(0.1, 0.3)])
        fov = rng.uniform(50.0, 62.0)
        camera = _sample_camera(rng, eye, target, fov, slot)
        self.camera_at = lambda s: camera_pose(camera, s)
        return camera, float(azim)

    def seconds(self, frame: float) -> float:
        return round(float(frame) / self.fps, 6)


def sample_kind_scene(
    kind: str, seed: int, index: int, ordinal: int, num_frames: int, width: int, height: int, fps: float,
    num_objects: tuple[int, int], tracks_per_object: int, background_tracks: int, cat: dict[str, Any],
) -> SceneSpec:
    """A scene of `kind` (anything in SCENE_KINDS but "mixed"), the `ordinal`-th of its kind in
    the run (`scenario.kind_ordinal`). Same arguments, same spec."""
    st = _Stage(seed, index, ordinal, num_frames, fps, cat)
    camera, azim, record = BUILDERS[kind](st, num_objects)
    rng = st.rng
    assign_captions(st.objects, rng)
    props = _sample_props(rng, cat, azim)
    ground_texture = str(rng.choice(cat.get("ground_textures", ["default"])))
    gc = cat.get("ground_colours", [[1, 1, 1]])
    g = gc[int(rng.integers(len(gc)))]
    light = rng.normal(size=3)
    light[2] = abs(light[2]) + 1.5
    return SceneSpec(
        scene_id=scene_name(seed, index), seed=int(seed), index=int(index), num_frames=int(num_frames),
        fps=float(fps), width=int(width), height=int(height), objects=st.objects, props=props, camera=camera,
        ground_texture=ground_texture, ground_rgba=(float(g[0]), float(g[1]), float(g[2]), 1.0),
        light_direction=tuple(float(v) for v in light / np.linalg.norm(light)),
        tracks_per_object=int(tracks_per_object), background_tracks=int(background_tracks),
        kind=kind, record=record,
    )


def _vec(v) -> list[float]:
    return [round(float(x), 6) for x in v]


def _settle_clear(st: _Stage, obj: ObjectSpec) -> None:
    """Move a (now static) object until it is clear of every path and of the camera."""
    movers = [o for o in st.objects if o.motion.kind != "static"]
    for _ in range(30):
        if st.clear_of_camera(obj) and all(_path_clear(o, st.objects) for o in movers):
            return
        st.move_to(obj, _place(st.rng, st.placed[:-1], obj.radius, disc=1.2))


def _extras(st: _Stage, n: int) -> list[int]:
    """n static objects of any non-agent asset (for "not moving" / "not spinning" answers),
    placed off the paths of the moving objects (dropped when no place is found)."""
    out = []
    for _ in range(n):
        obj = st.add(st.names(agent=False))
        movers = [o for o in st.objects if o.motion.kind != "static"]
        for _ in range(30):
            if all(_path_clear(o, st.objects) for o in movers) and st.clear_of_camera(obj):
                out.append(obj.id)
                break
            st.move_to(obj, _place(st.rng, st.placed[:-1], obj.radius, disc=1.2))
        else:
            st.objects.pop()
            st.placed.pop()
    return out


# -- camera_motion ----------------------------------------------------------------------------


def _bearing_shift(eye: np.ndarray, p0: np.ndarray, axis: np.ndarray, theta_deg: float) -> float | None:
    """Signed length L along horizontal `axis` (2,) that turns the bearing of p0 (2,) seen from
    `eye` (2,) by theta_deg (+ = counter-clockwise from above); None if no such L in front."""
    v = p0 - eye
    phi = np.arctan2(v[1], v[0]) + np.radians(theta_deg)
    w = np.array([np.cos(phi), np.sin(phi)])
    den = axis[0] * w[1] - axis[1] * w[0]
    if abs(den) < 1e-9:
        return None
    length = -(v[0] * w[1] - v[1] * w[0]) / den
    return float(length) if (v + length * axis) @ w > 0 else None


def _bearing(eye: np.ndarray, p: np.ndarray) -> float:
    d = p - eye
    return float(np.degrees(np.arctan2(d[1], d[0])))


def _camera_motion(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    move, sign = CAMERA_MOTION_SLOTS[st.deal("kind_deck", len(CAMERA_MOTION_SLOTS))]
    rel0 = st.deal("kind_deck2", len(RELATIONS))
    camera, azim = st.world_camera(slot=("static", 0, (("static",),)))
    eye, target = np.asarray(camera.eye), np.asarray(camera.target)
    r = float(np.linalg.norm(eye - target))
    if move == "pan":
        amount = sign * float(rng.uniform(*CAM_MOTION_PAN_DEG))
    else:
        amount = sign * float(rng.uniform(*CAM_MOTION_REL[move])) * r
    camera.moves = [CameraMove(move, amount)]
    cam0, cam1 = camera_pose(camera, 0.0), camera_pose(camera, 1.0)
    cam_disp = cam1[:3, 3] - cam0[:3, 3]
    n_sub = int(rng.integers(2, 4))
    rows = []
    for j in range(n_sub):
        obj = st.add(st.names(agent=False))
        for rel in [RELATIONS[(rel0 + j + i) % len(RELATIONS)] for i in range(len(RELATIONS))]:
            row = _relate(st, obj, rel, move, camera)
            if row is not None:
                rows.append(row)
                break
    _extras(st, int(rng.integers(0, 2)))
    unit = "deg" if move == "pan" else "m"
    record = {
        "move": move,
        "unit": unit,
        "axis": {"truck": "lateral: first camera's right axis, + = right",
                 "dolly": "radial: horizontal line of sight from the first camera to the object, + = away",
                 "pan": "bearing from the camera centre about world up, + = counter-clockwise seen from above "
                        "(towards the left of the view)"}[move],
        "camera_amount": round(amount, 6),
        "camera_rate": round(amount / st.duration, 6),
        "camera_displacement_m": _vec(cam_disp),
        "objects": rows,
    }
    return camera, azim, record


def _relate(st: _Stage, obj: ObjectSpec, rel: str, move: str, camera: CameraSpec):
    """Give `obj` a motion with relation `rel` to the camera; its record row, or None if none fits.

    The object moves along the camera's axis and nothing else, as the engine measures it from the
    first camera (docs/labels.md): for a truck or pan perpendicular to its line of sight (lateral
    only), for a dolly along the camera's horizontal forward axis (radial only)."""
    rng = st.rng
    amount = camera.moves[0].amount
    cam0 = camera_pose(camera, 0.0)
    eye = cam0[:2, 3]
    ahead = cam0[:2, 2] / np.linalg.norm(cam0[:2, 2])
    axis0 = ahead if move == "dolly" else cam0[:2, 0] / np.linalg.norm(cam0[:2, 0])
    way = float(np.sign(amount)) * (-1.0 if rel == "against" else 1.0) * (-1.0 if move == "pan" else 1.0)
    reach = {"truck": abs(amount), "dolly": abs(amount), "pan": np.linalg.norm(eye) * np.tan(np.radians(abs(amount)))}
    for attempt in range(40):
        xy = _place(rng, st.placed[:-1], obj.radius, disc=1.2)
        if attempt < 20 and rel != "static":  # start on the far side, move in across the centre
            xy = -0.5 * way * axis0 * reach[move] * (1.8 if rel == "faster" else 1.0) + rng.normal(0.0, 0.3, 2)
        st.move_to(obj, xy)
        found = _relative_move(rng, obj, rel, move, amount, cam0)
        if found is None:
            continue
        obj_amount, cam_amount, disp = found
        obj.motion = Motion() if rel == "static" else Motion(
            kind="translate", displacement=(float(disp[0]), float(disp[1]), 0.0), start=0.0, end=1.0,
            label=("away" if obj_amount > 0 else "towards") if move == "dolly" else
            ("left" if obj_amount > 0 else "right") if move == "pan" else ("right" if obj_amount > 0 else "left"),
        )
        if not st.clear(obj):
            continue
        if rel != "static" and not _reads_as(obj, cam0):
            continue
        return _relation_row(st, obj, rel, move, obj_amount, cam_amount)
    obj.motion = Motion()
    return None


def _relative_move(rng, obj: ObjectSpec, rel: str, move: str, amount: float, cam0: np.ndarray):
    """(object amount, camera amount along the object's axis, displacement (2,)) for relation
    `rel`, from where `obj` stands; None if it cannot read clearly from there."""
    right, los, dist0 = _first_view(cam0, obj)
    eye, xy = cam0[:2, 3], np.asarray(obj.position[:2])
    ahead = cam0[:2, 2] / np.linalg.norm(cam0[:2, 2])
    tangent = np.array([los[1], -los[0]])  # horizontal, perpendicular to the line of sight, to the right
    cam_amount = amount * float(cam0[:2, 2] @ los) if move == "dolly" else amount  # its horizontal part
    if rel == "static":
        return 0.0, cam_amount, np.zeros(2)
    sign = (-1.0 if rel == "against" else 1.0) * float(np.sign(cam_amount))
    if rel == "against":
        mag = float(rng.uniform(*DIR_RANGE)) * dist0
        if move == "pan":  # as the bearing change of that lateral move
            mag = float(np.degrees(np.arctan(mag / np.linalg.norm(xy - eye))))
    else:
        mag = float(rng.uniform(*(FASTER if rel == "faster" else SLOWER))) * abs(cam_amount)
        if move != "pan" and mag < 0.13 * dist0:  # would not read clearly from here
            return None
    if move == "truck":  # lateral amount mag: along the tangent, which has no radial part
        return sign * mag, cam_amount, sign * mag / float(tangent @ right) * tangent
    if move == "dolly":  # radial amount mag: along the camera's forward axis, which has no lateral part
        return sign * mag, cam_amount, sign * mag / float(ahead @ los) * ahead
    length = _bearing_shift(eye, xy, tangent, sign * mag)
    if length is None:
        return None
    p1 = xy + length * tangent  # the exact bearing change of the straight move
    return _wrap180(_bearing(eye, p1) - _bearing(eye, xy)), cam_amount, length * tangent


def _wrap180(a: float) -> float:
    return float((a + 180.0) % 360.0 - 180.0)


def _relation_row(st: _Stage, obj: ObjectSpec, rel: str, move: str, obj_amount: float, cam_amount: float):
    apparent = obj_amount - cam_amount
    names = {"truck": ("right", "left"), "dolly": ("away", "towards"), "pan": ("left", "right")}[move]
    return {
        "id": obj.id,
        "relation": rel,
        "world_direction": "not moving" if rel == "static" else names[0 if obj_amount > 0 else 1],
        "apparent_direction": names[0 if apparent > 0 else 1],
        "object_amount": round(float(obj_amount), 6),
        "camera_amount": round(float(cam_amount), 6),
        "apparent_amount": round(float(apparent), 6),
        "object_rate": round(float(obj_amount) / st.duration, 6),
        "apparent_rate": round(float(apparent) / st.duration, 6),
        "ratio": round(abs(float(obj_amount)) / abs(float(cam_amount)), 6),
        "displacement_m": _vec(obj.motion.displacement),
    }


# -- spinning ---------------------------------------------------------------------------------


def _spinning(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    n, n_ccw = SPIN_DECK[st.deal("kind_deck", len(SPIN_DECK))]
    camera, azim = st.world_camera()
    signs = rng.permutation([1.0] * n_ccw + [-1.0] * (n - n_ccw))
    w0 = min(float(rng.uniform(*SPIN_TOTAL_DEG)) / st.duration,
             SPIN_MAX_STEP_DEG * st.fps / SPIN_RATIO ** (n - 1))
    rates = w0 * SPIN_RATIO ** rng.permutation(n).astype(np.float64)
    rows = []
    for sgn, w in zip(signs, rates):
        obj = st.add(st.names(spin_clear=True))
        yaw = float(sgn * w * st.duration)
        obj.motion = Motion(kind="rotate", label="ccw" if sgn > 0 else "cw", yaw_deg=yaw, start=0.0, end=1.0)
        rows.append({"id": obj.id, "direction": obj.motion.label, "yaw_rate_deg_s": round(float(sgn * w), 6),
                     "total_yaw_deg": round(yaw, 6)})
    still = _extras(st, int(rng.integers(1, 3)))
    record = {
        "convention": YAW_CONVENTION,
        "objects": rows,
        "not_spinning": still,
        "counts": {"spinning": n, "ccw": int(n_ccw), "cw": int(n - n_ccw)},
        "rate_ratio": SPIN_RATIO,
    }
    return camera, azim, record


# -- repeated ---------------------------------------------------------------------------------


def _repeated(st: _Stage, num_objects: tuple[int, int]):
    event, count = REPEAT_DECK[st.deal("kind_deck", len(REPEAT_DECK))]
    if st.intervals < 2:
        raise ValueError(f"scene kind 'repeated' needs at least 3 frames (got {st.num_frames})")
    camera, azim = st.world_camera()
    cam0 = camera_pose(camera, 0.0)
    record = {"oscillate": _oscillate, "hop": _hop, "sequence": _sequence}[event](st, count, cam0)
    _extras(st, int(st.rng.integers(1, 3)))
    return camera, azim, record


def _oscillate(st: _Stage, cycles: int, cam0: np.ndarray) -> dict[str, Any]:
    """One object goes back and forth `cycles` times (2 cycles legs of m frames each), at constant
    speed, and ends where it started; every turning point is on a frame."""
    rng = st.rng
    cycles = max(1, min(cycles, st.intervals // 2))
    m = max(1, min(st.intervals // (2 * cycles), int(round(1.5 * st.fps))))
    f0 = int(rng.integers(0, st.intervals - 2 * cycles * m + 1))
    obj = st.add(st.names(agent=False))
    for _ in range(40):
        st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.0))
        right, los, dist0 = _first_view(cam0, obj)
        radial = bool(rng.random() < 0.5)
        tangent = np.array([los[1], -los[0]])  # each leg purely lateral (or radial) from the first camera
        axis = los if radial else tangent / float(tangent @ right)
        d = float(rng.choice([-1.0, 1.0]) * rng.uniform(*DIR_RANGE) * dist0)
        label = ("away" if d > 0 else "towards") if radial else ("right" if d > 0 else "left")
        obj.motion = Motion(kind="oscillate", label=label, displacement=(d * axis[0], d * axis[1], 0.0),
                            count=cycles, start=f0 / st.intervals, end=(f0 + 2 * cycles * m) / st.intervals)
        if st.clear(obj):
            break
    else:  # no clear path for it: it stands still and another object hops instead
        obj.motion = Motion()
        _settle_clear(st, obj)
        return _hop(st, cycles, cam0)
    turns = [f0 + k * m for k in range(1, 2 * cycles)]
    return {
        "event": "oscillate", "object": obj.id, "count": cycles, "cycles": cycles, "legs": 2 * cycles,
        "reversals": 2 * cycles - 1, "reversal_times_s": [st.seconds(f) for f in turns],
        "start_s": st.seconds(f0), "end_s": st.seconds(f0 + 2 * cycles * m),
        "amplitude_m": round(float(np.linalg.norm(obj.motion.displacement)), 6),
        "axis": _vec(np.asarray(obj.motion.displacement) / np.linalg.norm(obj.motion.displacement)),
        "first_direction": obj.motion.label,
    }


def _hop(st: _Stage, hops: int, cam0: np.ndarray) -> dict[str, Any]:
    """One object hops `hops` times in place: each hop a parabola under gravity lasting 2 m frames,
    launch, apex and landing on frames."""
    rng = st.rng
    m = max(1, int(round(rng.uniform(*HOP_SECONDS) * st.fps / 2)))
    m = min(m, max(1, st.intervals // 2))
    hops = max(1, min(hops, st.intervals // (2 * m)))
    f0 = int(rng.integers(0, st.intervals - 2 * m * hops + 1))
    tau = 2 * m / st.fps
    h = GRAVITY * tau * tau / 8.0
    obj = st.add(st.names(agent=False))
    obj.motion = Motion(kind="hop", label="hop", displacement=(0.0, 0.0, h), count=hops,
                        start=f0 / st.intervals, end=(f0 + 2 * m * hops) / st.intervals)
    return {
        "event": "hop", "object": obj.id, "count": hops, "hops": hops, "reversals": 2 * hops - 1,
        "launch_times_s": [st.seconds(f0 + 2 * m * k) for k in range(hops)],
        "apex_times_s": [st.seconds(f0 + 2 * m * k + m) for k in range(hops)],
        "landing_times_s": [st.seconds(f0 + 2 * m * (k + 1)) for k in range(hops)],
        "apex_height_m": round(h, 6), "hop_duration_s": round(tau, 6), "gravity_mps2": GRAVITY,
    }


def _sequence(st: _Stage, n: int, cam0: np.ndarray) -> dict[str, Any]:
    """n objects start moving one after another, g frames apart, each moving for 2 g frames."""
    rng = st.rng
    n = max(1, min(n, st.intervals - 1))
    g = max(1, st.intervals // (n + 1))
    f0 = int(rng.integers(0, st.intervals - (n + 1) * g + 1))
    first = st.deal("translate", len(TRANSLATION_DECK))
    movers = []
    for j in range(n):
        obj = st.add(st.names(agent=False))
        entry = TRANSLATIONS[HORIZONTAL[(first + j) % len(HORIZONTAL)]]
        s0, s1 = (f0 + len(movers) * g) / st.intervals, (f0 + (len(movers) + 2) * g) / st.intervals
        for _ in range(40):
            st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.2))
            m = _translation(rng, obj, cam0, entry)
            obj.motion = Motion(kind="translate", label=m.label, displacement=m.displacement, start=s0, end=s1)
            if st.clear(obj):
                movers.append(obj)
                break
        else:  # no clear path: it stands still and the sequence is shorter
            obj.motion = Motion()
            _settle_clear(st, obj)
    n = len(movers)
    if n == 0:
        return _hop(st, 1, cam0)
    order = list(rng.permutation(n))  # which object starts first: not always the lowest id
    starts = {movers[k].id: j for j, k in enumerate(order)}
    for obj in movers:  # re-time in the drawn order (paths stay the same lines)
        j = starts[obj.id]
        obj.motion.start, obj.motion.end = (f0 + j * g) / st.intervals, (f0 + (j + 2) * g) / st.intervals
    ok = all(st.clear(o) for o in movers)
    if not ok:  # re-timing made two paths meet: keep the id order, whose paths were checked
        for j, obj in enumerate(movers):
            obj.motion.start, obj.motion.end = (f0 + j * g) / st.intervals, (f0 + (j + 2) * g) / st.intervals
        starts = {o.id: j for j, o in enumerate(movers)}
    ids = sorted(starts, key=starts.get)
    return {
        "event": "start", "count": n, "order": ids,
        "start_times_s": [st.seconds(f0 + starts[i] * g) for i in ids],
        "end_times_s": [st.seconds(f0 + (starts[i] + 2) * g) for i in ids],
    }


# -- accelerating -----------------------------------------------------------------------------


def _accelerating(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    role0 = st.deal("kind_deck", len(ROLES))
    dir0 = st.deal("kind_deck2", len(HORIZONTAL))
    camera, azim = st.world_camera()
    cam0 = camera_pose(camera, 0.0)
    rows = []
    for j in range(int(rng.integers(2, 4))):
        role = ROLES[(role0 + j) % len(ROLES)]
        entry = TRANSLATIONS[HORIZONTAL[(dir0 + j) % len(HORIZONTAL)]]
        obj = st.add(st.names(agent=False))
        ease = {"speeding_up": 1.0, "slowing_down": -1.0, "constant": 0.0}[role] * float(rng.uniform(*EASE))
        for attempt in range(40):
            xy = _place(rng, st.placed[:-1], obj.radius, disc=1.2)
            st.move_to(obj, xy)
            m = _translation(rng, obj, cam0, entry)
            if attempt < 30:  # start on the far side and move in towards the centre
                d = np.asarray(m.displacement[:2])
                st.move_to(obj, -d * rng.uniform(0.3, 1.0) + rng.normal(0.0, 0.3, 2))
                m = _translation(rng, obj, cam0, entry)
            kind = "translate" if role == "constant" else "accelerate"
            obj.motion = Motion(kind=kind, label=m.label, displacement=m.displacement, ease=ease, start=0.0, end=1.0)
            if st.clear(obj):
                break
        else:  # no clear path: it stands still, off the others' paths
            obj.motion = Motion()
            _settle_clear(st, obj)
            continue
        dist = float(np.linalg.norm(obj.motion.displacement))
        t = st.duration
        rows.append({
            "id": obj.id, "role": role, "direction": obj.motion.label,
            "direction_world": _vec(np.asarray(obj.motion.displacement) / dist),
            "acceleration_mps2": round(2.0 * ease * dist / t**2, 6),
            "initial_speed_mps": round((1.0 - ease) * dist / t, 6),
            "final_speed_mps": round((1.0 + ease) * dist / t, 6),
            "distance_m": round(dist, 6), "start_s": 0.0, "end_s": round(t, 6),
        })
    _extras(st, int(rng.integers(0, 2)))
    record = {
        "convention": "acceleration_mps2 is along the direction of motion: > 0 speeding up, < 0 slowing down; "
                      "constant over [start_s, end_s]",
        "objects": rows,
    }
    return camera, azim, record


# -- ego --------------------------------------------------------------------------------------


def _mount(obj: ObjectSpec, pitch_deg: float) -> tuple[np.ndarray, dict[str, float]]:
    """Camera -> object frame (4, 4) of a camera at the front of the agent's top, looking along
    its forward axis, pitched down by pitch_deg; and the offsets used."""
    up_rot = upright_rotation(obj)
    fwd = up_rot @ np.asarray(obj.forward_axis, dtype=np.float64)  # upright frame, horizontal
    fwd[2] = 0.0
    fwd /= np.linalg.norm(fwd)
    ext = np.asarray(obj.approx_extent)
    ahead = 0.5 * float(np.abs(fwd) @ ext) * 0.8
    above = 0.5 * float(ext[2]) + EGO_ABOVE_M
    up = np.array([0.0, 0.0, 1.0])
    p = np.radians(pitch_deg)
    z = np.cos(p) * fwd - np.sin(p) * up
    x = np.cross(fwd, up)
    y = np.cross(z, x)
    mount = np.eye(4)
    mount[:3, :3] = up_rot.T @ np.stack([x, y, z], axis=1)
    mount[:3, 3] = up_rot.T @ (ahead * fwd + above * up)
    return mount, {"ahead_m": round(ahead, 6), "above_centre_m": round(above, 6), "pitch_deg": round(pitch_deg, 6)}


def _ego(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    move, turn = EGO_DECK[st.deal("kind_deck", len(EGO_DECK))]
    agent = st.add(st.names(agent=True), xy=np.zeros(2))
    r0 = {"forward": (1.5, 1.8), "backward": (0.8, 1.1), "stationary": (1.2, 1.6)}[move]
    azim = float(rng.uniform(-np.pi, np.pi))
    sign = {"straight": 0.0, "left": 1.0, "right": -1.0}[turn]
    h0 = heading_of(agent, 0.0)
    base = float(np.degrees(np.arctan2(h0[1], h0[0])))  # heading at yaw 0
    for _ in range(40):
        r = float(rng.uniform(*r0))
        st.move_to(agent, np.array([r * np.cos(azim), r * np.sin(azim)]))
        if move == "stationary":
            yaw = sign * float(rng.uniform(40, 70))
            motion = Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw, start=0.0, end=1.0)
        else:
            yaw = sign * float(rng.uniform(25, 40))
            dist = float(rng.uniform(0.5, 0.9)) * (1.0 if move == "forward" else -1.0)
            names = {"straight": "straight", "left": "turn_left", "right": "turn_right"}
            label = names[turn] if move == "forward" else "backward"
            motion = Motion(kind="agent", label=label, yaw_deg=yaw, distance=dist)
        head = np.degrees(azim + np.pi) + rng.uniform(-15, 15) - yaw / 2  # towards the centre
        agent.yaw_deg = float(head - base)
        agent.motion = motion
        if _path_clear(agent, st.objects):
            break
    pitch = float(rng.uniform(*EGO_PITCH_DEG))
    mount, offsets = _mount(agent, pitch)
    fov = float(rng.uniform(55.0, 65.0))
    cam0 = closed_form_object_pose(agent, 0.0) @ mount
    st.camera_at = lambda s: closed_form_object_pose(agent, s) @ mount
    st.camera_gap, st.camera_front = 0.4, False  # the agent drives up to things; it may turn away
    camera = CameraSpec(eye=tuple(float(v) for v in cam0[:3, 3]),
                        target=tuple(float(v) for v in cam0[:3, 3] + cam0[:3, 2]), fov_y_deg=fov, moves=[],
                        mount=agent.id, mount_pose=tuple(float(v) for v in mount.reshape(-1)))
    k = int(rng.integers(max(num_objects[0], 4), max(num_objects[1] - 2, 5) + 1))
    deck = st.deal("translate", len(TRANSLATION_DECK))
    sweep = (min(0.0, agent.motion.yaw_deg) - 20.0, max(0.0, agent.motion.yaw_deg) + 20.0)
    for j in range(k - 1):
        obj = st.add(st.names(agent=False))
        kind = _pick(rng, ["static", "translate", "rotate"], [0.3, 0.5, 0.2])
        lo, hi = sweep[0] + (sweep[1] - sweep[0]) * j / (k - 1), sweep[0] + (sweep[1] - sweep[0]) * (j + 1) / (k - 1)
        for _ in range(40):  # ahead of the camera, 0.9-2.2 m away, spread over the bearings it sweeps
            ang = np.arctan2(cam0[1, 2], cam0[0, 2]) + np.radians(rng.uniform(lo, hi))
            d = float(rng.uniform(0.9, 2.2))
            st.move_to(obj, cam0[:2, 3] + d * np.array([np.cos(ang), np.sin(ang)]))
            if kind == "translate":
                entry = TRANSLATIONS[TRANSLATION_DECK[(deck + j) % len(TRANSLATION_DECK)]]
                obj.position = (obj.position[0], obj.position[1], 0.0)
                obj.motion = _translation(rng, obj, cam0, entry)
            elif kind == "rotate":
                yaw = float(rng.uniform(60, 150)) * float(rng.choice([-1.0, 1.0]))
                obj.motion = Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw)
            if st.clear(obj) and (kind != "translate" or _reads_as(obj, cam0)):
                break
        else:  # nothing fitted: stand still, where it was put if that is clear, else anywhere clear
            obj.position = (obj.position[0], obj.position[1], 0.0)
            obj.motion = Motion()
            for _ in range(30):
                if _path_clear(agent, st.objects) and st.clear_of_camera(obj):
                    break
                st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.2))
    record = {"agent": agent.id, "agent_motion": agent.motion.label, "move": move, "turn": turn,
              "mount": "front of the agent's top, looking along its forward axis", **offsets}
    return camera, azim, record


BUILDERS: dict[str, Callable[..., tuple[CameraSpec, float, dict[str, Any]]]] = {
    "camera_motion": _camera_motion,
    "spinning": _spinning,
    "repeated": _repeated,
    "accelerating": _accelerating,
    "ego": _ego,
}
