"""Hand-made scenes with known motion for engine tests: spheres rendered as discs (z-buffered),
a camera on a chosen path, point tracks on the objects and the ground. Tiny images, few frames."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa4d.geometry import intrinsics_from_fov, look_at, project_world, rotation_about_axis
from qa4d.scene.format import SceneMeta, SceneObject, write_scene

COLOURS = {"red": (220, 40, 40), "green": (40, 200, 60), "blue": (50, 80, 230), "yellow": (230, 220, 40),
           "purple": (150, 60, 200), "orange": (240, 140, 30)}


@dataclass
class ToyObject:
    colour: str
    start: tuple[float, float, float]
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m per frame
    yaw_rate: float = 0.0                                    # degrees per frame, + = CCW from above
    radius: float = 0.5
    category: str = "ball"
    is_agent: bool = False


@dataclass
class ToyScene:
    scene_id: str
    objects: list[ToyObject]
    frames: int = 12
    size: int = 64
    eye: tuple[float, float, float] = (0.0, -6.0, 2.0)
    eye_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    target: tuple[float, float, float] = (0.0, 0.0, 0.5)
    target_velocity: tuple[float, float, float] | None = None   # None: target moves with the eye
    fps: float = 10.0
    background_points: int = 30
    seed: int = 0


def build(spec: ToyScene, root: Path) -> Path:
    T, S = spec.frames, spec.size
    K = intrinsics_from_fov(S, S, 60.0)
    ts = np.arange(T, dtype=np.float64)
    eye = np.asarray(spec.eye) + ts[:, None] * np.asarray(spec.eye_velocity)
    tv = spec.eye_velocity if spec.target_velocity is None else spec.target_velocity
    target = np.asarray(spec.target) + ts[:, None] * np.asarray(tv)
    c2w = np.stack([look_at(eye[t], target[t]) for t in range(T)])
    n_obj = len(spec.objects)
    o2w = np.tile(np.eye(4), (n_obj, T, 1, 1))
    for k, o in enumerate(spec.objects):
        for t in range(T):
            o2w[k, t, :3, :3] = rotation_about_axis((0, 0, 1), o.yaw_rate * t)
            o2w[k, t, :3, 3] = np.asarray(o.start) + t * np.asarray(o.velocity)
    mask = np.zeros((T, S, S), np.int32)
    depth = np.zeros((T, S, S), np.float32)
    images = np.zeros((T, S, S, 3), np.uint8)
    images[:] = (120, 120, 120)
    vv, uu = np.mgrid[0:S, 0:S] + 0.5
    for t in range(T):
        centres = o2w[:, t, :3, 3]
        uv, z = project_world(centres, K[None], c2w[t][None])
        for k in np.argsort(-z):  # far to near: nearer discs overwrite
            if z[k] <= 0:
                continue
            r_px = spec.objects[k].radius * K[0, 0] / z[k]
            disc = (uu - uv[k, 0]) ** 2 + (vv - uv[k, 1]) ** 2 <= r_px**2
            mask[t][disc] = k + 1
            depth[t][disc] = z[k]
            images[t][disc] = COLOURS[spec.objects[k].colour]
    # tracks: 4 points per object (rigidly attached, in front half), plus ground points
    rng = np.random.default_rng(spec.seed)
    pts, owner = [], []
    for k, o in enumerate(spec.objects):
        for _ in range(4):
            local = rng.uniform(-0.4, 0.4, 3) * o.radius
            pts.append(np.einsum("tij,j->ti", o2w[k, :, :3, :3], local) + o2w[k, :, :3, 3])
            owner.append(k + 1)
    for _ in range(spec.background_points):
        p = np.array([rng.uniform(-3, 3), rng.uniform(-2, 4), 0.0])
        pts.append(np.tile(p, (T, 1)))
        owner.append(0)
    tracks = np.stack(pts).astype(np.float64)
    owner = np.asarray(owner, np.int32)
    uv, z = project_world(tracks, K[None, None], c2w[None])
    vis = np.zeros(tracks.shape[:2], bool)
    for n in range(len(tracks)):
        for t in range(T):
            u, v = uv[n, t]
            if z[n, t] > 0 and 0 <= u < S and 0 <= v < S:
                vis[n, t] = mask[t, int(v), int(u)] == owner[n]
    obj_vis = np.array([[np.count_nonzero(mask[t] == k + 1) >= 20 for t in range(T)] for k in range(n_obj)])
    meta = SceneMeta(
        scene_id=spec.scene_id, source="sim", fps=spec.fps, width=S, height=S, frames=[],
        objects=[SceneObject(id=k + 1, category=o.category, caption=f"the {o.colour} {o.category}", is_agent=o.is_agent)
                 for k, o in enumerate(spec.objects)],
    )
    arrays = {
        "intrinsics": np.tile(K, (T, 1, 1)), "cam_to_world": c2w, "depth": depth, "instance_mask": mask,
        "object_to_world": o2w, "object_visible": obj_vis,
        "object_extent": np.array([[2 * o.radius] * 3 for o in spec.objects]),
        "tracks_world": tracks.astype(np.float32), "tracks_visible": vis, "tracks_object": owner,
    }
    return write_scene(root / spec.scene_id, meta, arrays, frames=list(images), image_format="png")


def varied_scenes(n: int, seed: int = 0, frames: int = 12, size: int = 64) -> list[ToyScene]:
    """n scenes with random camera and object motion (for end-to-end runs)."""
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    out = []
    for i in range(n):
        objs = []
        cols = rng.permutation(names)[: int(rng.integers(3, 6))]
        for j, c in enumerate(cols):
            moving = rng.random() < 0.6
            objs.append(ToyObject(
                colour=str(c), start=(rng.uniform(-2, 2), rng.uniform(-1, 2.5), 0.35),
                velocity=tuple(rng.uniform(-0.08, 0.08, 3) * np.array([1, 1, 0])) if moving else (0.0, 0.0, 0.0),
                yaw_rate=float(rng.choice([-8.0, 0.0, 8.0])),
                category="car" if j == 0 else "ball", is_agent=(j == 0),
            ))
        ev = tuple(rng.uniform(-0.12, 0.12, 3) * np.array([1, 1, 0.3])) if rng.random() < 0.7 else (0.0, 0.0, 0.0)
        out.append(ToyScene(f"toy{i:03d}", objs, frames=frames, size=size, eye_velocity=ev,
                            eye=(rng.uniform(-1, 1), -6.0 + rng.uniform(-0.5, 0.5), 2.0), seed=i))
    return out
