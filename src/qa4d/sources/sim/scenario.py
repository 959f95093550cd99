"""Random scene specifications: pure data (dataclasses + NumPy), no PyBullet.

A `SceneSpec` says everything about a scene: objects (asset, scale, colour, caption, start pose),
each object's motion, background props, ground, light and camera trajectory. `sample_scene`
draws one from `numpy.random.default_rng([seed, index])`, with the choices that become question
labels stratified across the scenes of a run (`_stratum`), so scene k depends on (seed, k) only
and labels come out clear of the QA engine's dead bands and evenly (docs/simulator.md).
Scripted motions and camera trajectories are closed-form functions of normalised time
s in [0, 1] (`scripted_pose`, `camera_pose`), so tests can check them without rendering.

Conventions: world z is up, the ground is z = 0, yaw is counter-clockwise seen from above.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa4d.geometry.camera import look_at
from qa4d.geometry.poses import rotation_about_axis
from qa4d.sources.sim.captions import assign_captions

ASSETS_FILE = Path(__file__).with_name("assets.json")

KINEMATIC = ("static", "translate", "rotate", "agent", "accelerate", "oscillate", "hop")
PHYSICS = ("pushed", "rolling", "falling", "colliding", "struck")
CAMERA_MOVES = ("static", "pan", "tilt", "dolly", "truck", "pedestal", "orbit", "jitter")
# Camera trajectories grouped by the camera_movement label they give (in the first camera's axes,
# docs/labels.md): (slot name, sign, trajectories that give the same label). A scene's slot is
# stratified over the scenes of a run (`_stratum`), so every label comes out equally often; the
# trajectory within a slot is drawn at random. Combinations only pair moves whose labels merge
# into an existing one (jitter adds nothing; truck + opposite pan is what an orbit reads as), since
# every distinct label costs the engine's per-label balancing a share of all the others.
CAMERA_SLOTS: tuple[tuple[str, int, tuple[tuple[str, ...], ...]], ...] = (
    ("static", 0, (("static",), ("jitter",))),
    ("pan", 1, (("pan",), ("pan", "jitter"))),
    ("pan", -1, (("pan",), ("pan", "jitter"))),
    ("tilt", 1, (("tilt",), ("tilt", "jitter"))),
    ("tilt", -1, (("tilt",), ("tilt", "jitter"))),
    ("dolly", 1, (("dolly",), ("dolly", "jitter"))),
    ("dolly", -1, (("dolly",), ("dolly", "jitter"))),
    ("truck", 1, (("truck",), ("truck", "jitter"))),
    ("truck", -1, (("truck",), ("truck", "jitter"))),
    ("pedestal", 1, (("pedestal",), ("pedestal", "jitter"))),
    ("pedestal", -1, (("pedestal",), ("pedestal", "jitter"))),
    ("orbit", 1, (("orbit",), ("orbit", "jitter"), ("truck", "pan"))),
    ("orbit", -1, (("orbit",), ("orbit", "jitter"), ("truck", "pan"))),
)
CAMERA_TRAJECTORIES = tuple(dict.fromkeys(t for _, _, ts in CAMERA_SLOTS for t in ts))
# Scripted translations: (label, lateral, radial) unit components relative to the first camera
# (lateral + = right, radial + = away along the line of sight); up/down are vertical.
TRANSLATIONS: tuple[tuple[str, float, float], ...] = (
    ("left", -1, 0), ("right", 1, 0), ("towards", 0, -1), ("away", 0, 1), ("up", 0, 0), ("down", 0, 0),
    ("left+towards", -1, -1), ("right+towards", 1, -1), ("left+away", -1, 1), ("right+away", 1, 1),
)
# Deck order of TRANSLATIONS: single directions twice as often as diagonals, since pushed,
# rolling and colliding objects and driving agents mostly add diagonal ones.
TRANSLATION_DECK = (0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 7, 8, 9)
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
CONVOY_SHARE = 0.6  # share of translating objects that follow the previous one's path
SPIN_DEG = (60.0, 150.0)  # yaw of spinning/rotating objects (band 15-30 degrees)
CAM_MOVE_REL = (0.2, 0.3)  # dolly/truck/pedestal, x the camera-target distance (band 0.05-0.1 x scene scale)
PAN_DEG = (20.0, 32.0)  # band 5-10 degrees
TILT_DEG = (15.0, 22.0)
ORBIT_DEG_MIN = 12.0  # orbit: the pan equals the orbit angle; the chord's forward part must stay small
JITTER_PATH_M = 0.06  # hand-held jitter: camera path over the clip (static needs <= 2 x 0.05 x scale)
JITTER_ROT_PATH_DEG = 4.0  # summed rotation (static needs <= 2 x 5 degrees)
GRAVITY = 9.81


@lru_cache(maxsize=4)
def load_assets(path: str | None = None) -> dict[str, Any]:
    """The asset catalog (assets.json next to this module unless `path` is given)."""
    p = Path(path) if path else ASSETS_FILE
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: cannot read asset catalog ({e})") from e
    for key in ("objects", "props"):
        if key not in data:
            raise ValueError(f"{p}: missing field {key!r}")
    return data


@dataclass
class Motion:
    """How an object moves over the clip.

    kind: static | translate | rotate | agent | accelerate | oscillate | hop (scripted, kinematic)
    or pushed | rolling | falling | colliding | struck (simulated with physics from an initial
    state). accelerate: straight line under constant acceleration (`ease`); oscillate: back and
    forth `count` times along `displacement` at constant speed; hop: `count` parabolic hops in
    place under gravity, apex `displacement[2]` above the start.
    label: the ground-truth description a question family can use: for translate the direction
    relative to the first camera (left/right/towards/away/up/down/arbitrary), for rotate
    cw/ccw (seen from above), for agents straight/turn_left/turn_right.
    """

    kind: str = "static"
    label: str = "static"
    displacement: tuple[float, float, float] = (0.0, 0.0, 0.0)  # translate: world metres over the clip
    yaw_deg: float = 0.0  # rotate/agent: total yaw change, + = counter-clockwise from above
    distance: float = 0.0  # agent: path length over the clip (metres)
    start: float = 0.0  # scripted motions run linearly from normalised time `start` to `end`
    end: float = 1.0
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # physics: initial linear velocity (m/s)
    angular_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # physics: initial (rad/s)
    friction: float = 0.5  # physics: lateral friction of the object
    target: int = 0  # colliding: id of the object it is launched at
    count: int = 0  # oscillate: back-and-forth cycles (2 count one-way legs); hop: number of hops
    ease: float = 0.0  # accelerate: offset = displacement ((1 - ease) u + ease u^2), u = progress

    @property
    def kinematic(self) -> bool:
        return self.kind in KINEMATIC


@dataclass
class ObjectSpec:
    """One object. `position` is (x, y, height of the object's lowest point above the ground)."""

    id: int
    asset: str
    category: str
    urdf: str  # relative to pybullet_data; "" for primitives
    primitive: str  # "" or "cylinder" / "box"
    scale: float
    colour: str
    rgba: tuple[float, float, float, float]
    keep_texture: bool
    upright_rpy_deg: tuple[float, float, float]
    approx_extent: tuple[float, float, float]  # world box size when upright, for placement
    position: tuple[float, float, float]
    yaw_deg: float
    motion: Motion
    is_agent: bool = False
    forward_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    size_word: str = ""
    caption: str = ""

    @property
    def radius(self) -> float:
        """Radius of the object's footprint circle (placement and path clearance)."""
        return 0.5 * float(np.hypot(self.approx_extent[0], self.approx_extent[1]))


@dataclass
class PropSpec:
    """A static background prop: part of the background (instance id 0)."""

    kind: str
    urdf: str
    primitive: str
    scale: float
    rgba: tuple[float, float, float, float]
    position: tuple[float, float]
    yaw_deg: float


@dataclass
class CameraMove:
    """One component of a camera trajectory. amount: degrees (pan/tilt/orbit), metres
    (dolly/truck/pedestal) or jitter amplitude in metres (rotation jitter = 40 deg/m of it)."""

    kind: str
    amount: float
    freqs: tuple[float, ...] = ()  # jitter: cycles per clip
    phases: tuple[float, ...] = ()  # jitter: 6 axes x len(freqs) phases, flattened


@dataclass
class CameraSpec:
    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov_y_deg: float
    moves: list[CameraMove]
    mount: int = 0  # id of the agent the camera rides on (0: a camera standing in the world)
    mount_pose: tuple[float, ...] = ()  # 16 floats, row-major: camera (OpenCV) -> agent's object frame

    @property
    def label(self) -> str:
        return "agent" if self.mount else "+".join(m.kind for m in self.moves)


@dataclass
class SceneSpec:
    scene_id: str
    seed: int
    index: int
    num_frames: int
    fps: float
    width: int
    height: int
    objects: list[ObjectSpec]
    props: list[PropSpec]
    camera: CameraSpec
    ground_texture: str
    ground_rgba: tuple[float, float, float, float]
    light_direction: tuple[float, float, float]
    tracks_per_object: int = 256
    background_tracks: int = 1024
    camera_relation: dict[str, Any] = field(default_factory=dict)
    kind: str = "mixed"  # scene kind (SCENE_KINDS): which sampler made it
    record: dict[str, Any] = field(default_factory=dict)  # ground truth of the kind, extra.sim[kind]

    @property
    def duration(self) -> float:
        """Clip length in seconds (frames are at t / fps, t = 0..T-1)."""
        return max(self.num_frames - 1, 1) / self.fps

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def summary(self) -> dict[str, Any]:
        """Ground-truth motion kinds for scene.json "extra" (what question families may read)."""
        cam_speed = camera_speed(self)
        return {
            "simulator": "qa4d.sim/1",
            "seed": self.seed,
            "index": self.index,
            "camera": {
                "trajectory": self.camera.label,
                "moves": [{"kind": m.kind, "amount": round(float(m.amount), 6)} for m in self.camera.moves],
                "speed_mps": round(cam_speed, 6),
                "fov_y_deg": round(float(self.camera.fov_y_deg), 6),
            },
            "camera_relation": _jsonable(self.camera_relation),
            "objects": [
                {
                    "id": o.id,
                    "asset": o.asset,
                    "colour": o.colour,
                    "size": o.size_word,
                    "motion": o.motion.kind,
                    "label": o.motion.label,
                    "scripted_speed_mps": round(scripted_speed(o, self.duration), 6),
                    "yaw_deg": round(float(o.motion.yaw_deg), 6),
                    **({"target": o.motion.target} if o.motion.target else {}),
                }
                for o in self.objects
            ],
            "kind": self.kind,
            "camera_mount": "agent" if self.camera.mount else "world",
            **(
                {"camera_agent": int(self.camera.mount), "camera_mount_pose": _round(mount_matrix(self.camera))}
                if self.camera.mount else {}
            ),
            **({self.kind: _jsonable(self.record)} if self.record else {}),
        }


def _round(x: Any, nd: int = 6) -> Any:
    """Nested lists of floats rounded to `nd` decimals (scene.json stays readable)."""
    a = np.asarray(x, dtype=np.float64)
    return np.round(a, nd).tolist()


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


# -- closed-form motion ---------------------------------------------------------------------


def _ramp(s: float, start: float, end: float) -> float:
    """Progress in [0, 1] of a motion that runs linearly over [start, end] of the clip."""
    if end <= start:
        return 1.0 if s >= end else 0.0
    return min(1.0, max(0.0, (s - start) / (end - start)))  # plain floats: called every sub-step


def heading_of(obj: ObjectSpec, yaw_deg: float) -> np.ndarray:
    """World heading (unit, horizontal) of an object's forward axis at yaw `yaw_deg`. Returns (3,)."""
    rot = rotation_about_axis((0, 0, 1), yaw_deg) @ upright_rotation(obj)
    f = rot @ np.asarray(obj.forward_axis, dtype=np.float64)
    f[2] = 0.0
    return f / np.linalg.norm(f)


def upright_rotation(obj: ObjectSpec) -> np.ndarray:
    """Rotation (3, 3) from the URDF frame to the upright pose (extrinsic x, y, z = roll, pitch, yaw)."""
    r, p, y = obj.upright_rpy_deg
    return (
        rotation_about_axis((0, 0, 1), y) @ rotation_about_axis((0, 1, 0), p) @ rotation_about_axis((1, 0, 0), r)
    )


def scripted_pose(obj: ObjectSpec, s: float) -> tuple[np.ndarray, float]:
    """Offset of a kinematic object's reference point from its start and its yaw at time s.

    Returns (offset (3,) metres, yaw in degrees). For physics objects: zero offset, start yaw.
    """
    m = obj.motion
    u = _ramp(s, m.start, m.end)
    if m.kind == "translate":  # optionally spinning about world up on the way (yaw_deg)
        d = m.displacement
        return np.array([d[0] * u, d[1] * u, d[2] * u]), obj.yaw_deg + m.yaw_deg * u
    if m.kind == "rotate":
        return np.zeros(3), obj.yaw_deg + m.yaw_deg * u
    if m.kind == "agent":
        h0 = heading_of(obj, obj.yaw_deg)
        th0 = np.arctan2(h0[1], h0[0])
        dth = np.radians(m.yaw_deg)
        if abs(dth) < 1e-9:
            off = m.distance * u * np.array([np.cos(th0), np.sin(th0), 0.0])
        else:  # constant speed along a circular arc
            th = th0 + dth * u
            r = m.distance / dth
            off = r * np.array([np.sin(th) - np.sin(th0), -(np.cos(th) - np.cos(th0)), 0.0])
        return off, obj.yaw_deg + m.yaw_deg * u
    if m.kind == "accelerate":  # constant acceleration along the displacement
        f = (1.0 - m.ease) * u + m.ease * u * u
        d = m.displacement
        return np.array([d[0] * f, d[1] * f, d[2] * f]), obj.yaw_deg
    if m.kind == "oscillate":  # triangle wave: 2 count legs of equal time, ends where it started
        legs = 2 * max(int(m.count), 1)
        leg, frac = divmod(u * legs, 1.0)
        if leg >= legs:
            leg, frac = legs - 1, 1.0
        f = frac if int(leg) % 2 == 0 else 1.0 - frac
        d = m.displacement
        return np.array([d[0] * f, d[1] * f, d[2] * f]), obj.yaw_deg
    if m.kind == "hop":  # parabolas z = 4 h q (1 - q) over each hop q in [0, 1]
        n = max(int(m.count), 1)
        hop, q = divmod(u * n, 1.0)
        if hop >= n:
            q = 0.0
        return np.array([0.0, 0.0, 4.0 * m.displacement[2] * q * (1.0 - q)]), obj.yaw_deg
    return np.zeros(3), obj.yaw_deg


def scripted_speed(obj: ObjectSpec, duration: float) -> float:
    """Nominal speed (m/s) of a scripted motion while it runs; 0 for others."""
    m = obj.motion
    span = max(m.end - m.start, 1e-9) * duration
    if m.kind in ("translate", "accelerate"):
        return float(np.linalg.norm(m.displacement)) / span
    if m.kind == "oscillate":  # mean speed along the path
        return 2 * max(m.count, 1) * float(np.linalg.norm(m.displacement)) / span
    if m.kind == "hop":
        return 2 * max(m.count, 1) * abs(m.displacement[2]) / span
    if m.kind == "agent":
        return m.distance / span
    return 0.0


def camera_pose(cam: CameraSpec, s: float) -> np.ndarray:
    """OpenCV cam_to_world (4, 4) of a camera trajectory at normalised time s in [0, 1].

    Moves compose in a fixed order: orbit (eye about the vertical through the target, then
    re-aim), translations in the first camera's axes (those at s = 0: dolly = optical axis,
    truck = camera x, pedestal = camera up, -y), pan (about world up at the eye) and tilt (about
    camera x), then jitter. Pan and tilt sweep from -amount/2 to +amount/2 so the scene centre is
    in view mid-clip.
    """
    eye = np.asarray(cam.eye, dtype=np.float64)
    target = np.asarray(cam.target, dtype=np.float64)
    base = look_at(eye, target)
    rot = base[:3, :3].copy()
    pos = eye.copy()
    for m in cam.moves:
        if m.kind == "orbit":
            r = rotation_about_axis((0, 0, 1), m.amount * s)
            pos = target + r @ (pos - target)
            rot = r @ rot
    first = _aim(cam, base[:3, :3], 0.0)  # so a truck reads as pure left/right even while panning
    for m in cam.moves:
        if m.kind == "dolly":
            pos = pos + m.amount * s * first[:, 2]
        elif m.kind == "truck":
            pos = pos + m.amount * s * first[:, 0]
        elif m.kind == "pedestal":  # along the camera's image-up axis, so it reads as pure up/down
            pos = pos - m.amount * s * first[:, 1]
    rot = _aim(cam, rot, s)
    for m in cam.moves:
        if m.kind == "jitter":
            f = np.asarray(m.freqs, dtype=np.float64)
            ph = np.asarray(m.phases, dtype=np.float64).reshape(6, len(f))
            wave = (np.sin(2 * np.pi * f * s + ph) - np.sin(ph)).mean(axis=1)  # 0 at s = 0
            pos = pos + m.amount * (rot @ wave[:3])
            ang = np.degrees(m.amount * 0.7) * wave[3:]  # ~40 degrees of rotation per metre
            for axis, a in zip(np.eye(3), ang):
                rot = rot @ rotation_about_axis(axis, a)
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, pos
    return out


def _aim(cam: CameraSpec, rot: np.ndarray, s: float) -> np.ndarray:
    """`rot` (3, 3) with the trajectory's pan and tilt at time s applied."""
    for m in cam.moves:
        if m.kind == "pan":
            rot = rotation_about_axis((0, 0, 1), m.amount * (s - 0.5)) @ rot
        elif m.kind == "tilt":
            # about camera x: positive tilts the optical axis up (towards camera -y)
            rot = rot @ rotation_about_axis((1, 0, 0), m.amount * (s - 0.5))
    return rot


def mount_matrix(cam: CameraSpec) -> np.ndarray:
    """Camera (OpenCV) -> agent object frame (4, 4) of an agent-mounted camera."""
    return np.asarray(cam.mount_pose, dtype=np.float64).reshape(4, 4)


def closed_form_object_pose(obj: ObjectSpec, s: float) -> np.ndarray:
    """Object -> world (4, 4) of a kinematic object at time s, up to a constant shift.

    The centre is approximated by the footprint centre at half the box height; the physics world
    centres the frame on the visual box exactly. Motion (differences between times) is exact.
    """
    off, yaw = scripted_pose(obj, s)
    out = np.eye(4)
    out[:3, :3] = rotation_about_axis((0, 0, 1), yaw) @ upright_rotation(obj)
    out[:3, 3] = np.array([obj.position[0], obj.position[1], obj.position[2] + 0.5 * obj.approx_extent[2]]) + off
    return out


def scene_camera_pose(spec: SceneSpec, s: float, object_poses: np.ndarray | None = None) -> np.ndarray:
    """cam_to_world (4, 4) of a scene's camera at time s. A world camera follows its trajectory
    (`camera_pose`); an agent-mounted one is the agent's pose times the fixed mount, with the
    agent's pose taken from `object_poses` (K, 4, 4) (the simulated poses, in spec.objects
    order) or else from the closed-form motion (`closed_form_object_pose`)."""
    cam = spec.camera
    if not cam.mount:
        return camera_pose(cam, s)
    k = next(i for i, o in enumerate(spec.objects) if o.id == cam.mount)
    pose = object_poses[k] if object_poses is not None else closed_form_object_pose(spec.objects[k], s)
    return pose @ mount_matrix(cam)


def camera_speed(spec: SceneSpec, samples: int = 64) -> float:
    """Mean speed (m/s) of the camera centre over the clip."""
    s = np.linspace(0, 1, samples)
    c = np.stack([scene_camera_pose(spec, float(x))[:3, 3] for x in s])
    return float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum() / spec.duration)


# -- sampling ---------------------------------------------------------------------------------


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The only source of randomness of scene `index` of a run with `seed` (besides `_stratum`)."""
    return np.random.default_rng([int(seed), int(index)])


def scene_name(seed: int, index: int) -> str:
    return f"sim{int(seed)}_{int(index):05d}"


_STREAMS = {"camera": 1, "translate": 2, "agent": 3, "kind": 4, "kind_deck": 5, "kind_deck2": 6}

# Scene kinds. "mixed" is the original random scene (any motion, a world camera); the others stage
# one kind of motion with its ground truth in extra.sim[kind] (docs/simulator.md):
# camera_motion (objects translating while the camera trucks, dollies or pans), spinning (several
# objects spinning in place), repeated (back and forth, hops, starts one after another),
# accelerating (constant acceleration against constant speed) and ego (camera on an agent).
SCENE_KINDS = ("mixed", "camera_motion", "spinning", "repeated", "accelerating", "ego")
# Default deck: each block of 8 consecutive scenes has 3 mixed scenes and one of each other kind.
KIND_DECK = ("mixed", "mixed", "mixed", "camera_motion", "spinning", "repeated", "accelerating", "ego")


def scene_kind(seed: int, index: int, kinds: tuple[str, ...] = KIND_DECK) -> str:
    """Kind of scene `index` of a run: a stratified draw from the deck `kinds` (duplicates weight)."""
    bad = [k for k in kinds if k not in SCENE_KINDS]
    if not kinds or bad:
        raise ValueError(f"scene kinds: unknown {bad} (known: {', '.join(SCENE_KINDS)})" if bad else "no scene kinds")
    return kinds[_stratum(seed, index, "kind", len(kinds))] if len(kinds) > 1 else kinds[0]


def kind_ordinal(seed: int, index: int, kinds: tuple[str, ...] = KIND_DECK) -> int:
    """How many scenes before `index` in the run have the same kind as scene `index`: the index
    that kind-specific decks are stratified over, so they come out even within the kind."""
    kind = scene_kind(seed, index, kinds)
    block, pos = divmod(int(index), len(kinds))
    before = sum(scene_kind(seed, block * len(kinds) + i, kinds) == kind for i in range(pos))
    return block * kinds.count(kind) + before


def _stratum(seed: int, index: int, stream: str, n: int) -> int:
    """A categorical draw in range(n) that is balanced across the scenes of a run.

    Scenes index // n * n ... + n - 1 (a block of n consecutive scenes) take every value exactly
    once, in an order drawn from default_rng([seed, block, stream]): label counts over a run are
    even (+-1 per block) instead of multinomial, and scene k still depends on (seed, k) only.
    """
    block, pos = divmod(int(index), n)
    perm = np.random.default_rng([int(seed), block, _STREAMS[stream]]).permutation(n)
    return int(perm[pos])


def _pick(rng: np.random.Generator, items: list[str], weights: list[float]) -> str:
    w = np.asarray(weights, dtype=np.float64)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def sample_scene(
    seed: int,
    index: int,
    num_frames: int,
    width: int,
    height: int,
    fps: float = 8.0,
    num_objects: tuple[int, int] = (2, 8),
    tracks_per_object: int = 256,
    background_tracks: int = 1024,
    assets: dict[str, Any] | None = None,
    kinds: tuple[str, ...] = KIND_DECK,
) -> SceneSpec:
    """Draw a random scene. Same arguments, same spec.

    The scene's kind is dealt from the deck `kinds` (`scene_kind`); a "mixed" scene is the same
    whatever the deck. Discrete choices that become question labels (camera trajectory slot,
    translation directions, agent motions, kind-specific configurations) are stratified across
    scenes with `_stratum`; everything else comes from `scene_rng(seed, index)`.
    """
    cat = assets or load_assets()
    kind = scene_kind(seed, index, tuple(kinds))
    if kind != "mixed":
        from qa4d.sources.sim.kinds import sample_kind_scene

        return sample_kind_scene(kind, seed, index, kind_ordinal(seed, index, tuple(kinds)), num_frames, width,
                                 height, fps, num_objects, tracks_per_object, background_tracks, cat)
    rng = scene_rng(seed, index)
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))
    slot = CAMERA_SLOTS[_stratum(seed, index, "camera", len(CAMERA_SLOTS))]

    # Camera first: motion labels (left/right/towards/away) are relative to the first camera.
    azim = rng.uniform(-np.pi, np.pi)
    dist = rng.uniform(2.4, 3.4)
    height_m = rng.uniform(1.2, 2.2)
    if slot[0] == "pedestal" and slot[1] < 0:
        height_m += 0.6  # room to come down
    eye = np.array([dist * np.cos(azim), dist * np.sin(azim), height_m])
    target = np.array([rng.normal(0, 0.1), rng.normal(0, 0.1), rng.uniform(0.1, 0.3)])
    fov = rng.uniform(50.0, 62.0)

    names = list(cat["objects"])
    agent_names = [n for n in names if cat["objects"][n].get("agent")]
    other_names = [n for n in names if not cat["objects"][n].get("agent")]
    # Most scenes have agents (the agent_motion task needs them), at most three and at most half.
    n_agents = min(int(rng.choice(4, p=[0.1, 0.4, 0.35, 0.15])), k // 2) if agent_names else 0
    objects: list[ObjectSpec] = []
    placed: list[tuple[np.ndarray, float]] = []
    for i in range(k):
        pool = agent_names if i < n_agents else other_names
        name = _pick(rng, pool, [float(cat["objects"][n].get("weight", 1.0)) for n in pool])
        a = cat["objects"][name]
        scale = float(rng.uniform(*a["scale"]))
        ext = tuple(float(v) * scale for v in a["unit_extent"])
        urdf = a.get("urdf", "")
        if "{index" in urdf:
            urdf = urdf.format(index=int(rng.integers(0, int(a.get("num_variants", 1)))))
        radius = 0.5 * float(np.hypot(ext[0], ext[1]))
        xy = _place(rng, placed, radius, disc=1.2)
        placed.append((xy, radius))
        objects.append(
            ObjectSpec(
                id=i + 1,
                asset=name,
                category=a["category"],
                urdf=urdf,
                primitive=a.get("primitive", ""),
                scale=scale,
                colour="",
                rgba=(1.0, 1.0, 1.0, 1.0),
                keep_texture=bool(a.get("keep_texture", False)),
                upright_rpy_deg=tuple(float(v) for v in a["upright_rpy_deg"]),
                approx_extent=ext,
                position=(float(xy[0]), float(xy[1]), 0.0),
                yaw_deg=float(rng.uniform(-180, 180)),
                motion=Motion(),
                is_agent=bool(a.get("agent", False)),
                forward_axis=tuple(float(v) for v in a.get("forward_axis", (1, 0, 0))),
            )
        )
    assign_captions(objects, rng)
    camera = _sample_camera(rng, eye, target, fov, slot)
    cam0 = camera_pose(camera, 0.0)  # the first camera: object directions are relative to it
    duration = max(num_frames - 1, 1) / fps
    # Decks: the j-th translating object (agent) of a scene takes entry (offset + j) of its deck,
    # with the offset stratified across scenes, so directions and agent motions come out even.
    decks = {
        "translate": _stratum(seed, index, "translate", len(TRANSLATION_DECK)),
        "agent": _stratum(seed, index, "agent", len(AGENT_MOTIONS)),
    }
    for obj in objects:
        _assign_motion(rng, obj, objects, cam0, duration, cat, decks)

    relation = _relate_camera(rng, camera, objects, cam0, duration)

    props = _sample_props(rng, cat, azim)
    ground_texture = str(rng.choice(cat.get("ground_textures", ["default"])))
    gc = cat.get("ground_colours", [[1, 1, 1]])
    g = gc[int(rng.integers(len(gc)))]
    light = rng.normal(size=3)
    light[2] = abs(light[2]) + 1.5  # from above
    return SceneSpec(
        scene_id=scene_name(seed, index),
        seed=int(seed),
        index=int(index),
        num_frames=int(num_frames),
        fps=float(fps),
        width=int(width),
        height=int(height),
        objects=objects,
        props=props,
        camera=camera,
        ground_texture=ground_texture,
        ground_rgba=(float(g[0]), float(g[1]), float(g[2]), 1.0),
        light_direction=tuple(float(v) for v in light / np.linalg.norm(light)),
        tracks_per_object=int(tracks_per_object),
        background_tracks=int(background_tracks),
        camera_relation=relation,
    )


def _place(rng: np.random.Generator, placed: list[tuple[np.ndarray, float]], radius: float, disc: float) -> np.ndarray:
    """A point in the disc, clear of already placed footprints when possible."""
    best, best_gap = None, -np.inf
    for _ in range(200):
        r = disc * np.sqrt(rng.random())
        a = rng.uniform(-np.pi, np.pi)
        xy = np.array([r * np.cos(a), r * np.sin(a)])
        gap = min((np.linalg.norm(xy - p) - radius - pr for p, pr in placed), default=np.inf)
        if gap > 0.1:
            return xy
        if gap > best_gap:
            best, best_gap = xy, gap
    return best


def _path_clear(obj: ObjectSpec, objects: list[ObjectSpec], samples: int = 9) -> bool:
    """Whether a kinematic object's path keeps clear of every other assigned object's footprint."""
    times = np.linspace(0, 1, samples)
    if obj.motion.kind == "oscillate":  # also at every turning point (its path's far end)
        m = obj.motion
        legs = 2 * max(int(m.count), 1)
        times = np.union1d(times, m.start + (m.end - m.start) * np.arange(legs + 1) / legs)
    for s in times:
        off, _ = scripted_pose(obj, float(s))
        p = np.asarray(obj.position[:2]) + off[:2]
        if np.linalg.norm(p) > 2.0:  # stay inside the stage
            return False
        if obj.position[2] + off[2] > 0.05:  # lifted objects fly over the others
            continue
        for other in objects:
            if other.id == obj.id:
                continue
            o_off, _ = scripted_pose(other, float(s)) if other.motion.kinematic else (np.zeros(3), 0)
            q = np.asarray(other.position[:2]) + o_off[:2]
            if np.linalg.norm(p - q) < obj.radius + other.radius + 0.05:
                return False
    return True


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


def _assign_motion(
    rng: np.random.Generator,
    obj: ObjectSpec,
    objects: list[ObjectSpec],
    cam0: np.ndarray,
    duration: float,
    cat: dict[str, Any],
    decks: dict[str, int],
) -> None:
    if obj.motion.kind == "struck":  # already chosen as the target of a collision
        return
    a = cat["objects"][obj.asset]
    if obj.is_agent:
        order = [AGENT_MOTIONS[(decks["agent"] + j) % len(AGENT_MOTIONS)] for j in range(len(AGENT_MOTIONS))]
        decks["agent"] += 1
        for move, turn in order:  # the dealt motion, else the next ones that fit
            for attempt in range(30):  # aimed at the stage centre first, then any heading
                obj.motion = _agent_motion(rng, obj, move, turn, aim=attempt < 10)
                if _path_clear(obj, objects):
                    return
        obj.motion = Motion()
        return
    # Shares tuned so the labels the engine reads come out even: few objects stay put (every
    # rotating one is also "static" for direction), most translate (10 direction labels).
    kinds = ["static", "translate", "rotate", "pushed", "falling", "colliding"]
    w = [0.09, 0.5, 0.14, 0.07, 0.05, 0.07]
    if a.get("round"):
        kinds.append("rolling")
        w.append(0.25)
    kind = _pick(rng, kinds, w)
    if kind == "translate":
        x, y, _ = obj.position
        # Sometimes in convoy with the previous translating object (same path, shifted): their
        # distance stays exactly constant while both move, which random motions rarely give.
        lead = next((o for o in reversed(objects[: objects.index(obj)]) if o.motion.kind == "translate"
                     and o.motion.label not in ("up", "down")), None)  # lifted pairs would be odd
        if lead is not None and rng.random() < CONVOY_SHARE:
            # In front of or behind the lead on its line of sight: the same displacement then
            # reads as the same direction from the first camera.
            _, los, _ = _first_view(cam0, lead)
            for _ in range(6):
                xy = np.asarray(lead.position[:2]) + los * rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 0.8)
                obj.position = (float(xy[0]), float(xy[1]), lead.position[2])
                obj.motion = Motion(**{**asdict(lead.motion), "yaw_deg": _spin(rng, p_none=SPIN_NONE)})
                if _reads_as(obj, cam0) and _path_clear(obj, objects):
                    return
        n = len(TRANSLATION_DECK)
        order = [TRANSLATION_DECK[(decks["translate"] + j) % n] for j in range(n)]
        decks["translate"] += 1
        for i in dict.fromkeys(order):  # the dealt direction, else the next ones that fit
            for attempt in range(24):
                obj.position = (x, y, 0.0)
                obj.motion = _translation(rng, obj, cam0, TRANSLATIONS[i])
                if attempt < 20:
                    # Start on the far side of the stage and move in towards the centre: the
                    # object stays in view, and it closes in on some objects as it opens up on
                    # others (random paths from a cluster mostly only separate).
                    d = np.asarray(obj.motion.displacement[:2])
                    if np.linalg.norm(d) > 1e-6:
                        xy = -d * rng.uniform(0.3, 1.0) + rng.normal(0.0, 0.35, 2)
                        obj.position = (float(xy[0]), float(xy[1]), obj.position[2])
                        obj.motion = _translation(rng, obj, cam0, TRANSLATIONS[i])
                if _path_clear(obj, objects):
                    return
        obj.position = (x, y, 0.0)
        obj.motion = Motion()
        return
    for _ in range(20):
        m = _draw_motion(rng, kind, obj, objects, cam0, duration)
        if m is None:
            break
        obj.motion = m
        if not m.kinematic or _path_clear(obj, objects):
            return
    obj.motion = Motion()  # nothing fitted: stay put


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


def _jitter(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray) -> CameraMove:
    """Hand-held wobble: a smooth 1-2 cycles per clip, scaled so its path and summed rotation stay
    well inside the engine's "static" camera (docs/labels.md: path <= 2 x low band)."""
    freqs = tuple(float(f) for f in rng.uniform(0.6, 1.8, 3))
    phases = tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 18))
    move = CameraMove("jitter", float(rng.uniform(0.02, 0.04)), freqs, phases)
    cam = CameraSpec(eye=tuple(eye), target=tuple(target), fov_y_deg=50.0, moves=[move])
    poses = np.stack([camera_pose(cam, float(s)) for s in np.linspace(0, 1, 65)])
    path = float(np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1).sum())
    steps = poses[1:, :3, :3] @ np.swapaxes(poses[:-1, :3, :3], 1, 2)
    rot = float(np.degrees(np.arccos(np.clip((np.trace(steps, axis1=1, axis2=2) - 1) / 2, -1, 1))).sum())
    move.amount *= min(1.0, JITTER_PATH_M / max(path, 1e-9), JITTER_ROT_PATH_DEG / max(rot, 1e-9))
    return move


def _sample_camera(
    rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, fov: float,
    slot: tuple[str, int, tuple[tuple[str, ...], ...]],
) -> CameraSpec:
    """Camera trajectory of a slot of CAMERA_SLOTS; magnitudes clear of the engine's dead bands.
    Translations scale with the camera-target distance R (the scene scale the engine uses, the
    median depth, is about R)."""
    _, sign, trajectories = slot
    traj = trajectories[int(rng.integers(len(trajectories)))]
    r = float(np.linalg.norm(eye - target))
    r_h = float(np.linalg.norm((eye - target)[:2]))
    moves = []
    for kind in traj:
        if kind == "pan":
            moves.append(CameraMove("pan", sign * float(rng.uniform(*PAN_DEG))))
        elif kind == "tilt":
            moves.append(CameraMove("tilt", sign * float(rng.uniform(*TILT_DEG))))
        elif kind == "orbit":
            # the chord of an orbit also moves the camera forward by r_h (1 - cos a): keep that
            # under 0.03 R, well below the low band (0.05 x scale)
            a_max = max(ORBIT_DEG_MIN + 0.5, min(18.0, float(np.degrees(np.arccos(1 - 0.03 * r / r_h)))))
            moves.append(CameraMove("orbit", sign * float(rng.uniform(ORBIT_DEG_MIN, a_max))))
        elif kind in ("dolly", "truck", "pedestal"):
            moves.append(CameraMove(kind, sign * float(rng.uniform(*CAM_MOVE_REL)) * r))
        elif kind == "jitter":
            moves.append(_jitter(rng, eye, target))
        else:
            moves.append(CameraMove("static", 0.0))
    return CameraSpec(
        eye=tuple(float(v) for v in eye), target=tuple(float(v) for v in target), fov_y_deg=float(fov), moves=moves
    )


def _relate_camera(
    rng: np.random.Generator, cam: CameraSpec, objects: list[ObjectSpec], cam0: np.ndarray, duration: float
) -> dict[str, Any]:
    """For a trucking camera and a sideways-moving object: make the camera move with it, faster
    or slower, or against it, and record which (question families about relative motion).

    The truck keeps its sign (the camera label is stratified) and a magnitude clear of the label
    band: an object moving the other way makes it "against"; one moving the same way "faster" or
    "slower", the object's speed being adjusted for "slower" when its path stays clear."""
    truck = next((m for m in cam.moves if m.kind == "truck"), None)
    movers = [o for o in objects if o.motion.kind == "translate" and o.motion.label in ("left", "right")]
    if truck is None or not movers:
        return {}
    eye, target = np.asarray(cam.eye), np.asarray(cam.target)
    lo, hi = (v * float(np.linalg.norm(eye - target)) for v in CAM_MOVE_REL)
    cam_sign = 1.0 if truck.amount > 0 else -1.0
    o = movers[int(rng.integers(len(movers)))]
    span = o.motion.end - o.motion.start  # the camera moves over the whole clip, the object over span
    obj_d = float(np.linalg.norm(o.motion.displacement))
    obj_sign = 1.0 if o.motion.label == "right" else -1.0
    if obj_sign != cam_sign:
        return {"object": o.id, "relation": "against"}
    if rng.random() < 0.5:  # slower: the object outruns the camera
        factor = float(rng.uniform(0.4, 0.6))
        need = abs(truck.amount) / factor * span  # object displacement for that speed ratio
        old = o.motion
        o.motion = Motion(**{**asdict(old), "displacement": tuple(float(v) * need / obj_d for v in old.displacement)})
        if _path_clear(o, objects):
            return {"object": o.id, "relation": "slower"}
        o.motion = old
    factor = float(rng.uniform(1.6, 2.2))
    amount = float(np.clip(factor * obj_d / span, lo, hi))
    if amount < factor * obj_d / span:  # a camera that fast would leave the scene: slow the object
        old = o.motion
        scale = amount * span / (factor * obj_d)  # a shorter stretch of a clear path is clear
        o.motion = Motion(**{**asdict(old), "displacement": tuple(float(v) * scale for v in old.displacement)})
        if not _reads_as(o, cam0):  # too short to read as left/right: no relation
            o.motion = old
            return {}
    truck.amount = cam_sign * amount
    return {"object": o.id, "relation": "faster"}


def _sample_props(rng: np.random.Generator, cat: dict[str, Any], cam_azim: float) -> list[PropSpec]:
    """1-3 static props behind the stage as seen from the first camera."""
    names = list(cat["props"])
    out = []
    for _ in range(int(rng.integers(1, 4))):
        name = names[int(rng.integers(len(names)))]
        a = cat["props"][name]
        ang = cam_azim + np.pi + rng.uniform(-1.0, 1.0)
        r = rng.uniform(2.6, 4.0)
        grey = float(rng.uniform(0.35, 0.9))
        tint = np.clip(grey + rng.normal(0, 0.08, 3), 0, 1)
        out.append(
            PropSpec(
                kind=name,
                urdf=a.get("urdf", ""),
                primitive=a.get("primitive", ""),
                scale=float(rng.uniform(*a["scale"])),
                rgba=(float(tint[0]), float(tint[1]), float(tint[2]), 1.0),
                position=(float(r * np.cos(ang)), float(r * np.sin(ang))),
                yaw_deg=float(rng.uniform(-180, 180)),
            )
        )
    return out


def make_object(
    id: int,
    asset: str,
    position: tuple[float, float, float] = (0.0, 0.0, 0.0),
    yaw_deg: float = 0.0,
    motion: Motion | None = None,
    scale: float | None = None,
    colour: str = "red",
    variant: int = 0,
    assets: dict[str, Any] | None = None,
) -> ObjectSpec:
    """A hand-made object for hand-made scenes (tests, demos): asset from the catalog, scale
    defaults to the middle of its range, caption from colour, size and category."""
    from qa4d.sources.sim.captions import caption, load_vocabulary, size_word

    cat = assets or load_assets()
    if asset not in cat["objects"]:
        raise KeyError(f"unknown asset {asset!r}; known: {sorted(cat['objects'])}")
    a = cat["objects"][asset]
    s = float(scale if scale is not None else np.mean(a["scale"]))
    ext = tuple(float(v) * s for v in a["unit_extent"])
    vocab = load_vocabulary()
    r, g, b = (float(v) for v in vocab["colours"][colour])
    size = size_word(ext, vocab)
    urdf = a.get("urdf", "")
    if "{index" in urdf:
        urdf = urdf.format(index=variant)
    return ObjectSpec(
        id=id,
        asset=asset,
        category=a["category"],
        urdf=urdf,
        primitive=a.get("primitive", ""),
        scale=s,
        colour=colour,
        rgba=(r, g, b, 1.0),
        keep_texture=bool(a.get("keep_texture", False)),
        upright_rpy_deg=tuple(float(v) for v in a["upright_rpy_deg"]),
        approx_extent=ext,
        position=tuple(float(v) for v in position),
        yaw_deg=float(yaw_deg),
        motion=motion or Motion(),
        is_agent=bool(a.get("agent", False)),
        forward_axis=tuple(float(v) for v in a.get("forward_axis", (1, 0, 0))),
        size_word=size,
        caption=caption(size, colour, a["category"]),
    )


def make_spec(
    objects: list[ObjectSpec],
    camera: CameraSpec,
    num_frames: int = 8,
    size: int = 64,
    fps: float = 8.0,
    scene_id: str = "custom",
    tracks_per_object: int = 128,
    background_tracks: int = 256,
) -> SceneSpec:
    """A hand-made scene on a plain ground without props."""
    return SceneSpec(
        scene_id=scene_id,
        seed=0,
        index=0,
        num_frames=num_frames,
        fps=fps,
        width=size,
        height=size,
        objects=objects,
        props=[],
        camera=camera,
        ground_texture="default",
        ground_rgba=(1.0, 1.0, 1.0, 1.0),
        light_direction=(0.3, 0.3, 0.9),
        tracks_per_object=tracks_per_object,
        background_tracks=background_tracks,
    )
