"""Overlap-balanced sampling of image pairs (MultiSPA App. D, Listing 1).

Overlaps here are percentages (0-100), as MultiSPA stores them: pass `100 * pairwise_overlap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def overlap_bins(overlap_percent: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each overlap, as `pandas.cut(x, edges, right=True, include_lowest=True)`.

    Bin k is (edges[k], edges[k+1]], except bin 0, which also holds x == edges[0].
    overlap_percent: (P,); edges: (B + 1,) increasing. Returns (P,) int64 in [0, B), -1 for
    values outside every bin and NaN.
    """
    x = np.asarray(overlap_percent, dtype=np.float64)
    e = np.asarray(edges, dtype=np.float64)
    ids = np.searchsorted(e, x, side="left")
    ids[x == e[0]] = 1
    ok = (ids > 0) & (ids < len(e)) & ~np.isnan(x)
    return np.where(ok, ids - 1, -1).astype(np.int64)


def overlap_edges(overlap_min: float = 6.0, overlap_max: float = 35.0, interval: float = 1.0) -> np.ndarray:
    """Bin edges of Listing 1: np.arange(min, max + interval, interval). Returns (B + 1,)."""
    return np.arange(overlap_min, overlap_max + interval, interval)


@dataclass(frozen=True)
class PairSample:
    """Result of `sample_balanced_pairs`.

    indices: (K,) int64 rows of the input chosen: the binned pairs in the order their bins were
    visited (each bin's rows ascending), then the zero-overlap rows. bins: (K,) their bin (-1 for
    zero-overlap rows). leftover: quota that no bin could fill (Listing 1 prints a warning).
    """

    indices: np.ndarray
    bins: np.ndarray
    leftover: int


def bin_quotas(total: int, n_bins: int) -> np.ndarray:
    """Listing 1 step 3: total // n each, the first total % n bins one more. Returns (n_bins,) int64."""
    q = np.full(n_bins, total // n_bins, dtype=np.int64)
    q[: total % n_bins] += 1
    return q


def sample_balanced_pairs(
    overlap_percent: np.ndarray,
    total: int,
    rng: np.random.Generator,
    non_overlap_samples: int = 0,
    overlap_min: float = 6.0,
    overlap_max: float = 35.0,
    interval: float = 1.0,
    count_empty_bins: bool = True,
) -> PairSample:
    """Draw up to `total` pairs balanced over overlap bins (MultiSPA App. D, Listing 1).

    1. Pairs with overlap exactly 0 form their own pool; `non_overlap_samples` of them are drawn
       (all if fewer). MultiSPA's code uses 0.
    2. The others go to bins of width `interval` over [overlap_min, overlap_max] (`overlap_bins`);
       pairs outside every bin are dropped.
    3. Each bin's quota is total // N, the first total % N bins (in overlap order) get one more.
    4. Bins are visited smallest first (stable: ties keep overlap order). A bin's quota plus the
       leftover of earlier bins is `current`: a bin with at most `current` pairs is taken whole
       and the rest carries on; a bigger one gives `current` pairs at random and the leftover
       resets to 0.

    N counts every bin when `count_empty_bins` (what Listing 1 does under pandas 2.2.3, the
    version MultiSPA pins: grouping by the categorical yields empty bins too, they sort first and
    pass their quota on), or only the non-empty bins otherwise.

    overlap_percent: (P,) overlaps in percent; rng: numpy Generator (all randomness).
    Returns a PairSample.
    """
    x = np.asarray(overlap_percent, dtype=np.float64)
    zero = np.flatnonzero(x == 0)
    if len(zero) > non_overlap_samples:
        zero = np.sort(rng.choice(zero, size=non_overlap_samples, replace=False))
    edges = overlap_edges(overlap_min, overlap_max, interval)
    bins = np.where(x == 0, -1, overlap_bins(x, edges))
    members = [np.flatnonzero(bins == b) for b in range(len(edges) - 1)]
    if not count_empty_bins:
        members = [m for m in members if len(m)]
    picked: list[np.ndarray] = []
    leftover = 0
    if members and any(len(m) for m in members):
        quotas = bin_quotas(total, len(members))
        order = sorted(range(len(members)), key=lambda i: len(members[i]))  # stable
        for i in order:
            group, current = members[i], int(quotas[i]) + leftover
            if len(group) <= current:
                picked.append(group)
                leftover = current - len(group)
            else:
                picked.append(np.sort(rng.choice(group, size=current, replace=False)))
                leftover = 0
    else:
        leftover = total
    chosen = np.concatenate(picked + [zero]).astype(np.int64) if picked or len(zero) else np.zeros(0, np.int64)
    return PairSample(indices=chosen, bins=bins[chosen] if len(chosen) else chosen.copy(), leftover=int(leftover))
