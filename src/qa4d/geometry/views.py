"""Relations between views and between points: view overlap and rigid-body segmentation."""

from __future__ import annotations

import numpy as np


def overlap_ratio(visible_a: np.ndarray, visible_b: np.ndarray) -> np.ndarray:
    """Overlap of two views as the IoU of their visible point sets (MultiSPA, Eq. 4).

    visible_a, visible_b: (..., N) bool, visibility of the same N scene points in each view.
    Returns (...,) float64 in [0, 1]; 0 when neither view sees any point.
    """
    a = np.asarray(visible_a, dtype=bool)
    b = np.asarray(visible_b, dtype=bool)
    inter = np.count_nonzero(a & b, axis=-1)
    union = np.count_nonzero(a | b, axis=-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def pairwise_overlap(visible: np.ndarray) -> np.ndarray:
    """Overlap ratio of every pair of frames. visible: (N, T) bool. Returns (T, T) float64."""
    v = np.asarray(visible, dtype=np.float64)
    inter = v.T @ v
    count = v.sum(axis=0)
    union = count[:, None] + count[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def rigid_body_segmentation(
    tracks: np.ndarray,
    threshold: float = 0.1,
    noise_floor: float = 0.01,
    min_points: int = 1,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Group 3D point tracks into rigid bodies (MultiSPA, appendix G).

    Two points of one rigid body keep their distance; the cost of a pair is the change of their
    distance accumulated over consecutive frames, ignoring per-step changes below `noise_floor`
    (metres) so that measurement noise does not add up. Points are clustered by average-linkage
    hierarchical clustering on that cost, cut at `threshold` (metres).

    tracks: (N, T, 3) world positions; valid: optional (N, T) bool, steps where either point is
    invalid are skipped. Returns labels (N,) int64: 0, 1, ... by decreasing group size (ties by
    lowest point index); points in groups smaller than `min_points` get -1.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    x = np.asarray(tracks, dtype=np.float64)
    n, t_len, _ = x.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64) if min_points <= 1 else -np.ones(1, dtype=np.int64)
    ok = np.ones((n, t_len), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    ok = ok & np.isfinite(x).all(axis=-1)
    cost = np.zeros((n, n))

    def dists(t: int) -> np.ndarray:
        p = np.where(ok[:, t, None], x[:, t], 0.0)
        return np.linalg.norm(p[:, None] - p[None, :], axis=-1)

    prev = dists(0)
    for t in range(1, t_len):
        cur = dists(t)
        both = ok[:, t - 1, None] & ok[None, :, t - 1] & ok[:, t, None] & ok[None, :, t]
        step = np.abs(cur - prev)
        cost += np.where(both & (step > noise_floor), step, 0.0)
        prev = cur
    np.fill_diagonal(cost, 0.0)
    cost = 0.5 * (cost + cost.T)
    raw = fcluster(linkage(squareform(cost, checks=False), method="average"), threshold, criterion="distance")
    # Relabel deterministically: biggest group first.
    groups = {}
    for i, g in enumerate(raw):
        groups.setdefault(g, []).append(i)
    ordered = sorted(groups.values(), key=lambda idx: (-len(idx), idx[0]))
    labels = -np.ones(n, dtype=np.int64)
    k = 0
    for idx in ordered:
        if len(idx) >= min_points:
            labels[idx] = k
            k += 1
    return labels
