"""Tiny in-memory scenes with known motion, for the measurement and label tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa4d.geometry import intrinsics_from_fov, look_at, rotation_about_axis
from qa4d.scene import Scene, SceneMeta, SceneObject

UP = np.array([0.0, 0.0, 1.0])
W, H = 64, 48


def pose(rotation: np.ndarray | None = None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """4x4 rigid transform from a (3, 3) rotation and a translation."""
    out = np.eye(4)
    if rotation is not None:
        out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def yaw(deg: float, up=UP) -> np.ndarray:
    """(3, 3) rotation about world up; positive = counter-clockwise seen from above."""
    return rotation_about_axis(up, deg)


def camera_path(eyes, targets, up=UP) -> np.ndarray:
    """(T, 4, 4) look-at cameras."""
    return np.stack([look_at(e, t, up) for e, t in zip(eyes, targets)])


def static_camera(t_len: int, eye=(0.0, -6.0, 1.5), target=(0.0, 0.0, 0.5)) -> np.ndarray:
    return np.repeat(look_at(np.array(eye), np.array(target))[None], t_len, axis=0)


def object_path(positions, yaws=None) -> np.ndarray:
    """(T, 4, 4) object poses: positions (T, 3) and yaw angles (T,) in degrees."""
    positions = np.asarray(positions, dtype=np.float64)
    yaws = np.zeros(len(positions)) if yaws is None else np.asarray(yaws, dtype=np.float64)
    return np.stack([pose(yaw(a), p) for p, a in zip(positions, yaws)])


def make_scene(
    cam_to_world: np.ndarray,
    object_poses: list[np.ndarray] | None = None,
    extents=None,
    agents: tuple[int, ...] = (),
    forward_axes=None,
    tracks_world: np.ndarray | None = None,
    tracks_visible: np.ndarray | None = None,
    world_up=(0.0, 0.0, 1.0),
    source: str = "test",
    extra_arrays: dict | None = None,
) -> Scene:
    """A Scene held in memory (no files): cameras, optional objects and tracks."""
    c2w = np.asarray(cam_to_world, dtype=np.float64)
    t_len = len(c2w)
    arrays = {
        "intrinsics": np.repeat(intrinsics_from_fov(W, H, 60.0)[None], t_len, axis=0),
        "cam_to_world": c2w,
    }
    objects = []
    if object_poses:
        k = len(object_poses)
        arrays["object_to_world"] = np.stack(object_poses).astype(np.float64)
        arrays["object_visible"] = np.ones((k, t_len), dtype=bool)
        arrays["object_extent"] = np.asarray(extents if extents is not None else [[0.4, 0.4, 0.4]] * k, np.float64)
        for i in range(k):
            fwd = tuple(forward_axes[i]) if forward_axes is not None else (1.0, 0.0, 0.0)
            objects.append(SceneObject(i + 1, "thing", f"thing number {i + 1}", is_agent=i in agents, forward_axis=fwd))
    if tracks_world is not None:
        n = len(tracks_world)
        arrays["tracks_world"] = np.asarray(tracks_world, dtype=np.float32)
        arrays["tracks_visible"] = (
            np.ones((n, t_len), dtype=bool) if tracks_visible is None else np.asarray(tracks_visible, bool)
        )
        arrays["tracks_object"] = np.zeros(n, dtype=np.int32)
    arrays.update(extra_arrays or {})
    meta = SceneMeta(
        scene_id="toy", source=source, fps=10.0, width=W, height=H,
        frames=[f"frames/{t:06d}.png" for t in range(t_len)], objects=objects, world_up=tuple(world_up),
    )
    return Scene(Path("/nonexistent/toy"), meta, arrays=arrays)


def without(scene: Scene, name: str) -> Scene:
    """The same scene without one of its arrays."""
    arrays = {k: scene.array(k) for k in scene.keys() if k != name}
    return Scene(scene.root, scene.meta, arrays=arrays)


def transform_scene(scene: Scene, g: np.ndarray) -> Scene:
    """The same scene after a rigid transform g (4, 4) of the whole world (cameras, objects,
    tracks, up vector). Every label must be unchanged."""
    arrays = {name: scene.array(name).copy() for name in scene.keys()}
    arrays["cam_to_world"] = g[None] @ arrays["cam_to_world"]
    if "object_to_world" in arrays:
        arrays["object_to_world"] = g[None, None] @ arrays["object_to_world"]
    if "tracks_world" in arrays:
        pts = arrays["tracks_world"].astype(np.float64)
        arrays["tracks_world"] = (pts @ g[:3, :3].T + g[:3, 3]).astype(np.float32)
    meta = SceneMeta(**{**scene.meta.__dict__, "world_up": tuple(g[:3, :3] @ scene.world_up)})
    return Scene(scene.root, meta, arrays=arrays)


def mirror_scene(scene: Scene) -> Scene:
    """The scene reflected through the world's x = 0 plane (which contains the up axis z).

    A reflection swaps left and right and clockwise and counter-clockwise but keeps up, down,
    towards and away. Rotations R become M R M; camera poses get their x axis negated as well so
    they stay right-handed OpenCV cameras (the mirrored image is the original flipped left-right).
    Assumes world up = +z.
    """
    m = np.diag([-1.0, 1.0, 1.0])
    arrays = {name: scene.array(name).copy() for name in scene.keys()}
    c2w = arrays["cam_to_world"]
    out = c2w.copy()
    out[:, :3, :3] = m @ c2w[:, :3, :3] @ m  # reflect, then flip the camera's own x axis
    out[:, :3, 3] = c2w[:, :3, 3] @ m
    arrays["cam_to_world"] = out
    if "object_to_world" in arrays:
        o = arrays["object_to_world"].copy()
        o[..., :3, :3] = m @ o[..., :3, :3] @ m
        o[..., :3, 3] = o[..., :3, 3] @ m
        arrays["object_to_world"] = o
    if "tracks_world" in arrays:
        arrays["tracks_world"] = (arrays["tracks_world"].astype(np.float64) @ m).astype(np.float32)
    objects = [
        SceneObject(o.id, o.category, o.caption, o.is_agent, tuple(np.asarray(o.forward_axis) @ m))
        for o in scene.objects
    ]
    meta = SceneMeta(**{**scene.meta.__dict__, "objects": objects})
    return Scene(scene.root, meta, arrays=arrays)
