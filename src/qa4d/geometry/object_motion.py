"""Object movement between two frames (MultiSPA sec. 3.2.2 and App. G, its released code).

The world displacement of a tracked point from frame i to frame j is X_j - X_i. Under
`static_threshold` (10 mm) it counts as no motion and is set to 0. The answer vector is that
displacement rotated into camera i's axes (X right, Y down, Z forward), a rotation only.
Frame pairs of one point are drawn balanced over 10 equal-width distance bins.
"""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import invert_rigid, project_world


def point_displacement(
    position_1: np.ndarray,
    position_2: np.ndarray,
    cam_to_world_1: np.ndarray,
    static_threshold: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Displacement of points from frame 1 to frame 2, in camera 1's axes.

    A world displacement shorter than `static_threshold` (metres, strict <) is set to exactly 0.
    position_1, position_2: (..., 3) world; cam_to_world_1: (..., 4, 4).
    Returns vector (..., 3) metres in camera-1 axes, distance (...,) metres, moving (...,) bool.
    """
    delta = np.asarray(position_2, dtype=np.float64) - np.asarray(position_1, dtype=np.float64)
    dist = np.linalg.norm(delta, axis=-1)
    moving = dist >= static_threshold
    delta = np.where(moving[..., None], delta, 0.0)
    rot_w2c = invert_rigid(cam_to_world_1)[..., :3, :3]
    vec = np.einsum("...ij,...j->...i", rot_w2c, delta)
    return vec, np.where(moving, dist, 0.0), moving


def projects_inside(
    points_world: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray, width: int, height: int
) -> np.ndarray:
    """MultiSPA's check on an object-movement query point: 0 <= u/W < 1, 0 <= v/H < 1 and z > 0.

    points_world: (..., 3); intrinsics: (..., 3, 3); cam_to_world: (..., 4, 4). Returns (...,) bool.
    """
    uv, z = project_world(points_world, intrinsics, cam_to_world)
    with np.errstate(invalid="ignore"):
        u, v = uv[..., 0] / width, uv[..., 1] / height
        return (z > 0) & (u >= 0) & (u < 1) & (v >= 0) & (v < 1)


def displacement_bins(distances: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Equal-width bin of each distance between the smallest and the largest.

    As MultiSPA: edges = np.histogram_bin_edges(distances, n_bins), bin = digitize - 1, the
    maximum folded into the last bin. distances: (M,), M >= 1. Returns (M,) int64 in [0, n_bins).
    """
    d = np.asarray(distances, dtype=np.float64)
    edges = np.histogram_bin_edges(d, bins=n_bins)
    return np.minimum(np.digitize(d, edges) - 1, n_bins - 1).astype(np.int64)


def all_frame_pairs(visible: np.ndarray) -> np.ndarray:
    """Every pair (i, j), i < j, of frames where a point is visible. visible: (T,) bool. Returns (M, 2) int64."""
    frames = np.flatnonzero(np.asarray(visible, dtype=bool))
    a, b = np.triu_indices(len(frames), k=1)
    return np.stack([frames[a], frames[b]], axis=-1).astype(np.int64)


def sample_displacement_pairs(
    track: np.ndarray,
    visible: np.ndarray,
    rng: np.random.Generator,
    pairs_per_bin: int = 30,
    static_threshold: float = 0.01,
    n_bins: int = 10,
    middle_bin: int = 4,
) -> np.ndarray:
    """Frame pairs of one tracked point, balanced by displacement (MultiSPA's released code).

    Among all pairs (i < j) of frames where the point is visible: one random static pair
    (displacement < static_threshold) if any; the moving pairs go to `n_bins` equal-width bins
    (`displacement_bins`) and every bin gives up to cap = max(1, min(|middle bin|, pairs_per_bin))
    random pairs (train: pairs_per_bin 30, eval 1).

    track: (T, 3) world positions; visible: (T,) bool; rng: numpy Generator.
    Returns (K, 2) int64 frame pairs: the static one first, then bins in order.
    """
    pairs = all_frame_pairs(visible)
    if len(pairs) == 0:
        return pairs
    x = np.asarray(track, dtype=np.float64)
    dist = np.linalg.norm(x[pairs[:, 1]] - x[pairs[:, 0]], axis=-1)
    static = np.flatnonzero(dist < static_threshold)
    moving = np.flatnonzero(dist >= static_threshold)
    chosen = [static[[rng.integers(len(static))]]] if len(static) else []
    if len(moving):
        bins = displacement_bins(dist[moving], n_bins)
        cap = max(1, min(int(np.count_nonzero(bins == middle_bin)), pairs_per_bin))
        for b in range(n_bins):
            members = moving[bins == b]
            if len(members) > cap:
                members = np.sort(rng.choice(members, size=cap, replace=False))
            chosen.append(members)
    return pairs[np.concatenate(chosen)] if chosen else pairs[:0]
