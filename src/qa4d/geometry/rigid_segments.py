"""Rigid-body segmentation of 3D point tracks (MultiSPA App. G, Listing 3).

Two points of one rigid body keep their distance. The cost of a pair is the change of their
distance summed over consecutive frames, each step's change counted only when it exceeds
`noise_floor` (Listing 3's smooth_factor, 0.01 m). Points are grouped by average-linkage
hierarchical clustering on that cost, cut at `threshold` (0.1 m); MultiSPA's code then keeps the
groups with more than 5 points (min_points=6).
"""

from __future__ import annotations

import numpy as np


def distance_change_cost(tracks: np.ndarray, noise_floor: float = 0.01, valid: np.ndarray | None = None) -> np.ndarray:
    """Accumulated pairwise distance change, condensed (scipy pdist order).

    cost[i, j] = sum_t s(|d_t(i, j) - d_{t-1}(i, j)|), s(v) = v if v > noise_floor else 0.
    Steps where either point is invalid (valid False or non-finite) at t-1 or t add nothing.
    tracks: (N, T, 3); valid: optional (N, T) bool. Returns (N * (N - 1) / 2,) float64.
    """
    from scipy.spatial.distance import pdist

    x = np.asarray(tracks, dtype=np.float64)
    n, t_len, _ = x.shape
    ok = np.isfinite(x).all(axis=-1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    i, j = np.triu_indices(n, k=1)
    cost = np.zeros(len(i))
    safe = np.where(ok[..., None], x, 0.0)
    prev = pdist(safe[:, 0])
    for t in range(1, t_len):
        cur = pdist(safe[:, t])
        both = ok[:, t - 1] & ok[:, t]
        step = np.abs(cur - prev)
        cost += np.where(both[i] & both[j] & (step > noise_floor), step, 0.0)
        prev = cur
    return cost


def rigid_body_segmentation(
    tracks: np.ndarray,
    threshold: float = 0.1,
    noise_floor: float = 0.01,
    min_points: int = 1,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Group 3D point tracks into rigid bodies (MultiSPA Listing 3).

    tracks: (N, T, 3) positions (world or camera frame: distances are the same); valid: optional
    (N, T) bool. Returns labels (N,) int64: 0, 1, ... by decreasing group size (ties by lowest
    point index); points in groups smaller than `min_points` get -1 (MultiSPA: min_points=6).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    x = np.asarray(tracks, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64) if min_points <= n else -np.ones(n, dtype=np.int64)
    cost = distance_change_cost(x, noise_floor, valid)
    raw = fcluster(linkage(cost, method="average"), threshold, criterion="distance")
    return relabel_by_size(raw, min_points)


def relabel_by_size(raw: np.ndarray, min_points: int = 1) -> np.ndarray:
    """Renumber cluster ids 0, 1, ... by decreasing size, ties by lowest member index.

    raw: (N,) any integer ids. Returns (N,) int64; members of groups below min_points get -1.
    """
    raw = np.asarray(raw)
    ids, first, counts = np.unique(raw, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    labels = -np.ones(len(raw), dtype=np.int64)
    k = 0
    for g in order:
        if counts[g] >= min_points:
            labels[raw == ids[g]] = k
            k += 1
    return labels


def groups_of(labels: np.ndarray) -> list[np.ndarray]:
    """Point indices of each group, in label order. labels: (N,) with -1 = none. Returns list of (n_g,) int64."""
    labels = np.asarray(labels)
    return [np.flatnonzero(labels == g) for g in range(int(labels.max(initial=-1)) + 1)]
