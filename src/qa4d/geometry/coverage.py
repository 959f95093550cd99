"""Object size and the minimum-coverage image-set search (MultiSPA sec. 3.2.1, App. F, Listing 2).

Sizes come from the axis-aligned box of the object's points in a gravity-aligned world (z up):
height = dz, length = max(dx, dy), width = min(dx, dy). The coverage of an image set along an
axis is max - min of the coordinates of the object points visible in any of its images; a set
covers when |coverage - target| <= tol * target (tol = 0.1).

Since the union's max is the max of each image's max (and likewise the min), a set's coverage
follows from per-image extents alone: `image_extents` once, then every set costs O(set size).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np


@dataclass(frozen=True)
class ObjectSize:
    """Axis-aligned size of an object, metres, with the world axis each length is measured on."""

    height: float
    width: float
    length: float
    height_axis: int
    width_axis: int
    length_axis: int


def box_extents(points: np.ndarray) -> np.ndarray:
    """Extents (dx, dy, dz) of the axis-aligned box around points. points: (N, 3), N >= 1. Returns (3,)."""
    p = np.asarray(points, dtype=np.float64)
    return p.max(axis=0) - p.min(axis=0)


def object_size(extents: np.ndarray) -> ObjectSize:
    """Height = dz, length = max(dx, dy), width = min(dx, dy) (MultiSPA's code).

    The width axis is x when dx < dy, else y; the length axis is the other one (so a square
    footprint measures width on y and length on x, as MultiSPA's coverage finder).
    extents: (3,) = (dx, dy, dz). Returns ObjectSize.
    """
    dx, dy, dz = (float(v) for v in np.asarray(extents, dtype=np.float64))
    width_axis = 0 if dx < dy else 1
    return ObjectSize(height=dz, width=min(dx, dy), length=max(dx, dy), height_axis=2,
                      width_axis=width_axis, length_axis=1 - width_axis)


def image_extents(coords: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest coordinate of the object points each image sees.

    coords: (N,) object points' coordinate along the axis; visible: (N, K) bool over K images.
    Returns lo (K,), hi (K,); +inf / -inf for an image that sees no object point.
    """
    c = np.asarray(coords, dtype=np.float64)[:, None]
    v = np.asarray(visible, dtype=bool)
    lo = np.where(v, c, np.inf).min(axis=0, initial=np.inf)
    hi = np.where(v, c, -np.inf).max(axis=0, initial=-np.inf)
    return lo, hi


def set_coverage(lo: np.ndarray, hi: np.ndarray, image_set) -> float:
    """Coverage of the union of images `image_set` (indices): max(hi) - min(lo); 0 when empty.

    lo, hi: (K,) from `image_extents`.
    """
    idx = np.asarray(list(image_set), dtype=np.int64)
    top, bottom = hi[idx].max(initial=-np.inf), lo[idx].min(initial=np.inf)
    return float(top - bottom) if np.isfinite(top) else 0.0


def covers(coverage: np.ndarray, target: float, tol: float = 0.1) -> np.ndarray:
    """|coverage - target| <= tol * target (MultiSPA's covers_dimension). coverage: (...,). Returns (...,) bool."""
    return np.abs(np.asarray(coverage, dtype=np.float64) - target) <= tol * target


def single_coverage(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Coverage of each image alone. lo, hi: (K,). Returns (K,), 0 for images that see nothing."""
    with np.errstate(invalid="ignore"):
        c = hi - lo
    return np.where(np.isfinite(c), c, 0.0)


def covering_pairs(lo: np.ndarray, hi: np.ndarray, target: float, tol: float = 0.1) -> np.ndarray:
    """All image pairs whose union covers while neither image covers alone (MultiSPA's 2-image sets).

    lo, hi: (K,) from `image_extents`. Returns (P, 2) int64 pairs i < j in lexicographic order.
    """
    single = covers(single_coverage(lo, hi), target, tol)
    with np.errstate(invalid="ignore"):
        pair = np.maximum(hi[:, None], hi[None, :]) - np.minimum(lo[:, None], lo[None, :])
    pair = np.where(np.isfinite(pair), pair, 0.0)
    ok = covers(pair, target, tol) & ~single[:, None] & ~single[None, :]
    i, j = np.nonzero(np.triu(ok, k=1))
    return np.stack([i, j], axis=-1).astype(np.int64)


def minimal_covering_sets(
    lo: np.ndarray,
    hi: np.ndarray,
    target: float,
    tol: float = 0.1,
    max_size: int = 2,
    level_cap: int | None = None,
    rng: np.random.Generator | None = None,
) -> dict[int, list[tuple[int, ...]]]:
    """Breadth-first minimum-coverage-set search (MultiSPA App. F, Listing 2).

    Level k holds image sets of size k (indices ascending). Phase A: a set that contains a known
    minimal set is skipped; a set that covers is recorded as minimal; an uncovered set is kept for
    expansion unless even adding every higher-index image leaves its coverage below
    (1 - tol) * target. Phase B: kept sets grow by one higher-index image among the images that
    do not cover alone. (MultiSPA's code only adds images that survived that prune at level 1,
    which loses sets whose high-index image cannot cover with its successors alone; not copied.) With `level_cap`, a level larger than the cap is cut to `level_cap` random
    sets (MultiSPA: 5,000), drawn with `rng`. MultiSPA's data uses max_size = 2.

    lo, hi: (K,) from `image_extents`. Returns {k: [sets of size k]}, each list in BFS order.
    """
    k_img = len(lo)
    # reach[i]: extents of images i..K-1 together, for the "can never cover" prune.
    reach_lo = np.minimum.accumulate(lo[::-1])[::-1] if k_img else lo
    reach_hi = np.maximum.accumulate(hi[::-1])[::-1] if k_img else hi
    found: dict[int, list[tuple[int, ...]]] = {}
    minimal: list[frozenset] = []
    level = [((i,), lo[i], hi[i]) for i in range(k_img)]
    singles: list[int] = []
    size = 1
    while level and size <= max_size:
        keep, uncovered = [], []
        for combo, c_lo, c_hi in level:
            members = frozenset(combo)
            if any(m <= members for m in minimal):
                continue
            cov = c_hi - c_lo if np.isfinite(c_hi - c_lo) else 0.0
            if covers(cov, target, tol):
                found.setdefault(size, []).append(combo)
                minimal.append(members)
                continue
            uncovered.append(combo[0])
            last = combo[-1]
            if last + 1 < k_img:
                best = max(c_hi, reach_hi[last + 1]) - min(c_lo, reach_lo[last + 1])
                best = best if np.isfinite(best) else 0.0
                if best < (1.0 - tol) * target:
                    continue
            keep.append((combo, c_lo, c_hi))
        if size == 1:
            singles = uncovered  # every image that does not cover alone may join a set
        level = [(combo + (j,), min(c_lo, lo[j]), max(c_hi, hi[j]))
                 for combo, c_lo, c_hi in keep for j in singles if j > combo[-1]] if size < max_size else []
        if level_cap is not None and len(level) > level_cap:
            gen = rng if rng is not None else np.random.default_rng(0)
            level = [level[i] for i in np.sort(gen.choice(len(level), size=level_cap, replace=False))]
        size += 1
    return found


def brute_force_minimal_sets(lo: np.ndarray, hi: np.ndarray, target: float, tol: float = 0.1,
                             max_size: int = 2) -> dict[int, list[tuple[int, ...]]]:
    """Every covering set of size <= max_size none of whose proper subsets covers (reference, slow).

    lo, hi: (K,). Returns {k: [sets]} with sets in lexicographic order.
    """
    out: dict[int, list[tuple[int, ...]]] = {}
    for size in range(1, max_size + 1):
        for combo in combinations(range(len(lo)), size):
            if not covers(set_coverage(lo, hi, combo), target, tol):
                continue
            if any(covers(set_coverage(lo, hi, sub), target, tol)
                   for r in range(1, size) for sub in combinations(combo, r)):
                continue
            out.setdefault(size, []).append(combo)
    return out
