"""Scene specifications: pure data (dataclasses), no PyBullet and no randomness.

A `SceneSpec` says everything about a scene: objects (asset, scale, colour, caption, start pose),
each object's motion, background props, ground, light and camera trajectory; `summary` is the
ground truth written to scene.json "extra.sim". The samplers (`scenario.sample_scene`) fill it in.

Conventions: world z is up, the ground is z = 0, yaw is counter-clockwise seen from above.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa4d.sources.sim.camera import camera_speed, mount_matrix
from qa4d.sources.sim.motion import scripted_speed

ASSETS_FILE = Path(__file__).with_name("assets.json")

KINEMATIC = ("static", "translate", "rotate", "agent", "accelerate", "oscillate", "hop")
PHYSICS = ("pushed", "rolling", "falling", "colliding", "struck")


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
