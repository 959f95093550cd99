"""Random scene specifications: pure data (dataclasses + NumPy), no PyBullet.

A `SceneSpec` says everything about a scene: objects (asset, scale, colour, caption, start pose),
each object's motion, background props, ground, light and camera trajectory. `sample_scene`
draws one from `numpy.random.default_rng([seed, index])`, so scene k depends on (seed, k) only.
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

KINEMATIC = ("static", "translate", "rotate", "agent")
PHYSICS = ("pushed", "rolling", "falling", "colliding", "struck")
CAMERA_MOVES = ("static", "pan", "tilt", "dolly", "truck", "pedestal", "orbit", "jitter")
# Camera trajectory kinds drawn per scene: single moves and combinations.
CAMERA_TRAJECTORIES = (
    ("static",), ("pan",), ("tilt",), ("dolly",), ("truck",), ("pedestal",), ("orbit",), ("jitter",),
    ("pan", "jitter"), ("orbit", "jitter"), ("dolly", "pan"), ("truck", "pan"), ("orbit", "tilt"),
    ("dolly", "jitter"), ("truck", "jitter"), ("pedestal", "tilt"),
)
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

    kind: static | translate | rotate | agent (scripted, kinematic) or pushed | rolling | falling |
    colliding | struck (simulated with physics from an initial state).
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

    @property
    def label(self) -> str:
        return "+".join(m.kind for m in self.moves)


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
        }


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
    if m.kind == "translate":
        d = m.displacement
        return np.array([d[0] * u, d[1] * u, d[2] * u]), obj.yaw_deg
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
    return np.zeros(3), obj.yaw_deg


def scripted_speed(obj: ObjectSpec, duration: float) -> float:
    """Nominal speed (m/s) of a scripted motion while it runs; 0 for others."""
    m = obj.motion
    span = max(m.end - m.start, 1e-9) * duration
    if m.kind == "translate":
        return float(np.linalg.norm(m.displacement)) / span
    if m.kind == "agent":
        return m.distance / span
    return 0.0


def camera_pose(cam: CameraSpec, s: float) -> np.ndarray:
    """OpenCV cam_to_world (4, 4) of a camera trajectory at normalised time s in [0, 1].

    Moves compose in a fixed order: orbit (eye about the vertical through the target, then
    re-aim), translations in the first camera's axes (dolly = optical axis, truck = camera x,
    pedestal = world up), pan (about world up at the eye) and tilt (about camera x), then jitter.
    Pan and tilt sweep from -amount/2 to +amount/2 so the scene centre is in view mid-clip.
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
    for m in cam.moves:
        if m.kind == "dolly":
            pos = pos + m.amount * s * base[:3, 2]
        elif m.kind == "truck":
            pos = pos + m.amount * s * base[:3, 0]
        elif m.kind == "pedestal":
            pos = pos + m.amount * s * np.array([0.0, 0.0, 1.0])
    for m in cam.moves:
        if m.kind == "pan":
            rot = rotation_about_axis((0, 0, 1), m.amount * (s - 0.5)) @ rot
        elif m.kind == "tilt":
            # about camera x: positive tilts the optical axis up (towards camera -y)
            rot = rot @ rotation_about_axis((1, 0, 0), m.amount * (s - 0.5))
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


def camera_speed(spec: SceneSpec, samples: int = 64) -> float:
    """Mean speed (m/s) of the camera centre over the clip."""
    s = np.linspace(0, 1, samples)
    c = np.stack([camera_pose(spec.camera, float(x))[:3, 3] for x in s])
    return float(np.linalg.norm(np.diff(c, axis=0), axis=1).sum() / spec.duration)


# -- sampling ---------------------------------------------------------------------------------


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The only source of randomness of scene `index` of a run with `seed`."""
    return np.random.default_rng([int(seed), int(index)])


def scene_name(seed: int, index: int) -> str:
    return f"sim{int(seed)}_{int(index):05d}"


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
) -> SceneSpec:
    """Draw a random scene. Same arguments, same spec."""
    cat = assets or load_assets()
    rng = scene_rng(seed, index)
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))

    # Camera first: motion labels (left/right/towards/away) are relative to the first camera.
    azim = rng.uniform(-np.pi, np.pi)
    dist = rng.uniform(2.4, 3.4)
    eye = np.array([dist * np.cos(azim), dist * np.sin(azim), rng.uniform(1.2, 2.2)])
    target = np.array([rng.normal(0, 0.1), rng.normal(0, 0.1), rng.uniform(0.1, 0.3)])
    fov = rng.uniform(50.0, 62.0)

    names = list(cat["objects"])
    weights = [float(cat["objects"][n].get("weight", 1.0)) for n in names]
    objects: list[ObjectSpec] = []
    placed: list[tuple[np.ndarray, float]] = []
    agents = 0
    for i in range(k):
        for _ in range(50):
            name = _pick(rng, names, weights)
            a = cat["objects"][name]
            if not (a.get("agent") and agents >= 2):  # at most two agents: they are big
                break
        agents += bool(a.get("agent"))
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
    cam0 = look_at(eye, target)
    duration = max(num_frames - 1, 1) / fps
    for obj in objects:
        _assign_motion(rng, obj, objects, cam0, duration, cat)

    camera = _sample_camera(rng, eye, target, fov)
    relation = _relate_camera(rng, camera, objects, cam0)

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
    for s in np.linspace(0, 1, samples):
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


def _assign_motion(
    rng: np.random.Generator,
    obj: ObjectSpec,
    objects: list[ObjectSpec],
    cam0: np.ndarray,
    duration: float,
    cat: dict[str, Any],
) -> None:
    if obj.motion.kind == "struck":  # already chosen as the target of a collision
        return
    a = cat["objects"][obj.asset]
    if obj.is_agent:
        kinds, w = ["agent", "static", "rotate"], [0.75, 0.1, 0.15]
    else:
        kinds = ["static", "translate", "rotate", "pushed", "falling", "colliding"]
        w = [0.2, 0.3, 0.2, 0.1, 0.1, 0.1]
        if a.get("round"):
            kinds.append("rolling")
            w.append(0.35)
    kind = _pick(rng, kinds, w)
    for _ in range(20):
        m = _draw_motion(rng, kind, obj, objects, cam0, duration)
        if m is None:
            break
        obj.motion = m
        if not m.kinematic or _path_clear(obj, objects):
            return
    obj.motion = Motion()  # nothing fitted: stay put


def _draw_motion(rng, kind, obj, objects, cam0, duration) -> Motion | None:
    right = cam0[:3, 0].copy()
    right[2] = 0
    right /= np.linalg.norm(right)
    away = cam0[:3, 2].copy()
    away[2] = 0
    away /= np.linalg.norm(away)
    if kind == "static":
        return Motion()
    if kind == "translate":
        label = _pick(rng, ["left", "right", "towards", "away", "up", "down", "arbitrary"], [1.2, 1.2, 1, 1, 0.6, 0.6, 1])
        d = float(rng.uniform(0.4, 1.2))
        if label in ("up", "down"):
            d = float(rng.uniform(0.3, 0.8))
            vec = np.array([0.0, 0.0, d if label == "up" else -d])
            if label == "down":
                x, y, _ = obj.position
                obj.position = (x, y, d)  # starts in the air, ends on the ground
        else:
            dirs = {"left": -right, "right": right, "towards": -away, "away": away}
            if label == "arbitrary":
                a = rng.uniform(-np.pi, np.pi)
                dvec = np.array([np.cos(a), np.sin(a), 0.0])
            else:
                dvec = dirs[label]
            vec = d * dvec
        start = float(rng.uniform(0.0, 0.2))
        return Motion(kind="translate", label=label, displacement=tuple(vec), start=start, end=float(rng.uniform(0.8, 1.0)))
    if kind == "rotate":
        yaw = float(rng.uniform(45, 180)) * (1 if rng.random() < 0.5 else -1)
        start, end = float(rng.uniform(0, 0.2)), float(rng.uniform(0.8, 1.0))
        return Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw, start=start, end=end)
    if kind == "agent":
        turn = _pick(rng, ["straight", "turn_left", "turn_right"], [1, 1, 1])
        yaw = {"straight": 0.0, "turn_left": float(rng.uniform(45, 120)), "turn_right": -float(rng.uniform(45, 120))}[turn]
        # Aim roughly at the stage centre so agents stay in view.
        to_c = -np.asarray(obj.position[:2])
        if np.linalg.norm(to_c) > 0.3:
            h = np.degrees(np.arctan2(to_c[1], to_c[0])) + rng.uniform(-50, 50)
            h0 = heading_of(obj, 0.0)
            obj.yaw_deg = float(h - np.degrees(np.arctan2(h0[1], h0[0])) - yaw / 2)
        return Motion(kind="agent", label=turn, yaw_deg=yaw, distance=float(rng.uniform(0.7, 1.5)))
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


def _sample_camera(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, fov: float) -> CameraSpec:
    traj = CAMERA_TRAJECTORIES[int(rng.integers(len(CAMERA_TRAJECTORIES)))]
    moves = []
    for kind in traj:
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if kind == "pan":
            moves.append(CameraMove("pan", sign * float(rng.uniform(10, 40))))
        elif kind == "tilt":
            moves.append(CameraMove("tilt", sign * float(rng.uniform(8, 20))))
        elif kind == "orbit":
            moves.append(CameraMove("orbit", sign * float(rng.uniform(20, 60))))
        elif kind == "dolly":
            moves.append(CameraMove("dolly", sign * float(rng.uniform(0.5, 1.3))))
        elif kind == "truck":
            moves.append(CameraMove("truck", sign * float(rng.uniform(0.5, 1.5))))
        elif kind == "pedestal":
            moves.append(CameraMove("pedestal", sign * float(rng.uniform(0.3, 0.8))))
        elif kind == "jitter":
            freqs = tuple(float(f) for f in rng.uniform(1.0, 5.0, 3))
            phases = tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 18))
            moves.append(CameraMove("jitter", float(rng.uniform(0.02, 0.05)), freqs, phases))
        else:
            moves.append(CameraMove("static", 0.0))
    return CameraSpec(
        eye=tuple(float(v) for v in eye), target=tuple(float(v) for v in target), fov_y_deg=float(fov), moves=moves
    )


def _relate_camera(rng: np.random.Generator, cam: CameraSpec, objects: list[ObjectSpec], cam0: np.ndarray) -> dict[str, Any]:
    """For a trucking camera and a sideways-moving object: make the camera move with it, faster
    or slower, or against it, and record which (question families about relative motion)."""
    truck = next((m for m in cam.moves if m.kind == "truck"), None)
    movers = [o for o in objects if o.motion.kind == "translate" and o.motion.label in ("left", "right")]
    if truck is None or not movers:
        return {}
    o = movers[0]
    obj_d = float(np.linalg.norm(o.motion.displacement))
    obj_sign = 1.0 if o.motion.label == "right" else -1.0
    relation = _pick(rng, ["faster", "slower", "against"], [1, 1, 1])
    if relation == "against":
        truck.amount = -obj_sign * float(rng.uniform(0.5, 1.2)) * obj_d
    else:
        factor = float(rng.uniform(1.6, 2.2)) if relation == "faster" else float(rng.uniform(0.3, 0.6))
        truck.amount = obj_sign * factor * obj_d * (o.motion.end - o.motion.start)
    return {"object": o.id, "relation": relation}


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
