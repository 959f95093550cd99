"""Closed-form camera paths: the camera's pose as a function of normalised time s in [0, 1]
(`camera_pose` for a camera standing in the world, `scene_camera_pose` also for one mounted on
an agent)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from qa4d.geometry.camera import look_at
from qa4d.geometry.poses import rotation_about_axis
from qa4d.sources.sim.motion import closed_form_object_pose, yaw_rotation

if TYPE_CHECKING:
    from qa4d.sources.sim.spec import CameraSpec, SceneSpec

CAMERA_MOVES = ("static", "pan", "tilt", "dolly", "truck", "pedestal", "orbit", "jitter")


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
    base = _look_at(tuple(cam.eye), tuple(cam.target))
    rot = base[:3, :3].copy()
    pos = eye.copy()
    for m in cam.moves:
        if m.kind == "orbit":
            r = yaw_rotation(m.amount * s)
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


@lru_cache(maxsize=256)
def _look_at(eye: tuple[float, ...], target: tuple[float, ...]) -> np.ndarray:
    """`look_at` of a camera's start, cached: a path is evaluated at every frame and sub-sample."""
    out = look_at(np.asarray(eye, dtype=np.float64), np.asarray(target, dtype=np.float64))
    out.flags.writeable = False
    return out


def _aim(cam: CameraSpec, rot: np.ndarray, s: float) -> np.ndarray:
    """`rot` (3, 3) with the trajectory's pan and tilt at time s applied."""
    for m in cam.moves:
        if m.kind == "pan":
            rot = yaw_rotation(m.amount * (s - 0.5)) @ rot
        elif m.kind == "tilt":
            # about camera x: positive tilts the optical axis up (towards camera -y)
            rot = rot @ rotation_about_axis((1, 0, 0), m.amount * (s - 0.5))
    return rot


def mount_matrix(cam: CameraSpec) -> np.ndarray:
    """Camera (OpenCV) -> agent object frame (4, 4) of an agent-mounted camera."""
    return np.asarray(cam.mount_pose, dtype=np.float64).reshape(4, 4)


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
