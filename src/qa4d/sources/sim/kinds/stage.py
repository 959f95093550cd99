"""What every scene kind shares: `_Stage` (the catalog, the scene's rng, clip timing, object
placement clear of the other objects and of the camera, the world camera) and helpers that add
static objects off the moving objects' paths."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.camera_paths import CAMERA_SLOTS, _sample_camera
from qa4d.sources.sim.deal import _stratum, scene_rng
from qa4d.sources.sim.layout import _path_clear, _place, draw_asset, object_spec
from qa4d.sources.sim.motion import closed_form_object_pose
from qa4d.sources.sim.spec import CameraSpec, ObjectSpec


class _Stage:
    """What every kind shares: the catalog, the scene's rng, clip timing and object ids."""

    def __init__(self, seed: int, index: int, ordinal: int, num_frames: int, fps: float, cat: dict[str, Any],
                 width: int = 1, height: int = 1):
        self.seed, self.index, self.ordinal, self.cat = seed, index, ordinal, cat
        self.width, self.height = width, height  # image size (only its aspect ratio is used)
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

    def names(self, agent: bool | None = None, spin_clear: bool = False, large: bool = False) -> list[str]:
        """Asset names: agents or not (None: both), not symmetric about up (`spin_clear`), and the
        big static boxes of kind "large" (`large` in assets.json) only when `large`."""
        objs = self.cat["objects"]
        out = [n for n in objs if bool(objs[n].get("large")) == large]
        out = [n for n in out if agent is None or bool(objs[n].get("agent")) == agent]
        return [n for n in out if not (spin_clear and objs[n].get("symmetric_about_up"))]

    def add(self, pool: list[str], xy: np.ndarray | None = None, disc: float = 1.2) -> ObjectSpec:
        """A new object of a random asset from `pool`, placed clear of the others unless `xy`."""
        rng = self.rng
        drawn = draw_asset(rng, self.cat, pool)
        radius = drawn[5]
        fixed = xy is not None
        if not fixed:
            xy = _place(rng, self.placed, radius, disc=disc)
        self.placed.append((np.asarray(xy, dtype=np.float64), radius))
        obj = object_spec(len(self.objects) + 1, drawn, xy, float(rng.uniform(-180, 180)))
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
