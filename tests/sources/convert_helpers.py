"""Closed-form scenes for converter tests: level cameras, a ground plane and oriented boxes,
ray-cast exactly (z-depth, ray distance, instance ids), independent of the converters' code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def rot_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def level_camera(pos, yaw_deg: float) -> np.ndarray:
    """OpenCV cam_to_world (4,4) of a level camera at `pos` in a z-up world, looking along
    (cos yaw, sin yaw, 0)."""
    fwd = rot_z(yaw_deg) @ np.array([1.0, 0.0, 0.0])
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    down = np.cross(fwd, right)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, down, fwd, pos
    return m


def pose(rot: np.ndarray, trans) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rot, trans
    return m


def intrinsics(w: int, h: int, f: float) -> np.ndarray:
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


def ray_cast(k: np.ndarray, c2w: np.ndarray, h: int, w: int, boxes: list[tuple[np.ndarray, np.ndarray, int]],
             ground: tuple[np.ndarray, float] | None = (np.array([0.0, 0.0, 1.0]), 0.0)):
    """Render one view exactly. boxes: (box_to_world (4,4), half sizes (3,), id); ground: plane
    n.x = c. Returns z-depth (H,W), ray distance (H,W) and ids (H,W) int (0: ground or nothing)."""
    v, u = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    d_cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1)
    d_cam /= np.linalg.norm(d_cam, axis=-1, keepdims=True)
    d = d_cam @ c2w[:3, :3].T
    o = c2w[:3, 3]
    best = np.full((h, w), np.inf)
    ids = np.zeros((h, w), np.int64)
    if ground is not None:
        n, c = ground
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (c - o @ n) / (d @ n)
        best = np.where((t > 0) & np.isfinite(t), t, np.inf)
    for b2w, half, oid in boxes:
        r, p = b2w[:3, :3], b2w[:3, 3]
        ol = r.T @ (o - p)
        dl = d @ r                        # = (R^T d) per pixel
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (-half - ol) / dl
            t2 = (half - ol) / dl
        tn = np.nanmax(np.minimum(t1, t2), axis=-1)
        tf = np.nanmin(np.maximum(t1, t2), axis=-1)
        hit = (tn <= tf) & (tn > 0) & (tn < best)
        best = np.where(hit, tn, best)
        ids = np.where(hit, oid, ids)
    dist = np.where(np.isfinite(best), best, 0.0)
    z = dist * d_cam[..., 2]
    return z, dist, ids


def rgb_from_ids(ids: np.ndarray, t: int) -> np.ndarray:
    """A frame that shows the objects (colours by id) and some texture."""
    h, w = ids.shape
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (ids * 90) % 256
    img[..., 1] = (np.arange(w)[None, :] * 7 + t * 3) % 256
    img[..., 2] = (np.arange(h)[:, None] * 5) % 256
    return img


def validate_ok(scene_dir: Path) -> None:
    from qa4d.scene.validate import validate_scene

    problems = validate_scene(scene_dir)
    assert not problems, "\n".join(map(str, problems))


def generate_counts(scenes: Path, out: Path) -> tuple[dict[str, int], dict]:
    """Generate from `scenes` (every scene in train); returns (task -> samples, skips)."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    summary = generate(GenerateConfig(scenes=str(scenes), out=str(out), seed=0, bench_fraction=0.0, media_frames=4),
                       log=lambda m: None)
    # summaries are keyed "family/task"; these tests use the 4dpqa family's task names
    counts = {t.split("/", 1)[1]: n for split in summary.counts.values() for t, n in split.items() if n}
    info = json.loads((out / "dataset.json").read_text())
    return counts, {t.split("/", 1)[1]: v for t, v in info["skips"].items()}


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def look_camera(eye, target) -> np.ndarray:
    """OpenCV cam_to_world (4,4) at `eye` looking at `target`, image x level (z-up world)."""
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    fwd = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return pose(np.stack([right, down, fwd], 1), eye)


def quat_wxyz(r: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (3,3) (Shepperd's method)."""
    tr = np.trace(r)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0] * 4
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (r[j, i] + r[i, j]) / s
        q[1 + k] = (r[k, i] + r[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


def box_corners(b2w: np.ndarray, half: np.ndarray) -> np.ndarray:
    """World corners (8, 3) of a box with pose b2w (4,4) and half sizes (3,)."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
    return (signs * half) @ b2w[:3, :3].T + b2w[:3, 3]


def track_checks(s, boxes_over_time: dict[int, list[np.ndarray]], halves: dict[int, np.ndarray], ground_z: float,
                 up_axis: int = 2, tol: float = 5e-3):
    """Object tracks are fixed points on their box's surface in the box frame; background tracks
    are fixed points on the ground. boxes_over_time: id -> [box_to_world (4,4)] per scene frame."""
    x = np.asarray(s.tracks_world, float)
    own = np.asarray(s.tracks_object)
    assert (own == 0).any(), "no background tracks"
    for oid, poses in boxes_over_time.items():
        sel = own == oid
        assert sel.sum() > 5, f"object {oid} has {sel.sum()} tracks"
        local = np.stack([(x[sel, t] - p[:3, 3]) @ p[:3, :3] for t, p in enumerate(poses)], 1)  # (n, T, 3)
        np.testing.assert_allclose(local, local[:, :1].repeat(local.shape[1], 1), atol=2e-3)
        on_face = np.abs(np.abs(local[:, 0]) / halves[oid] - 1.0).min(axis=-1)
        assert on_face.max() < 0.02, on_face.max()
    bg = x[own == 0]
    np.testing.assert_allclose(bg[..., up_axis], ground_z, atol=tol)
    np.testing.assert_allclose(bg, bg[:, :1].repeat(bg.shape[1], 1), atol=1e-6)
