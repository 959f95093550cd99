"""Deterministic sampling: scene splits, video segments, media frames, objects (4DP-QA sec. 3.2).

Every random choice comes from `rng_for(seed, *names)`, a generator keyed by the run seed and
stable names (scene id, task, candidate number), never by processing order, so workers, resumes
and task subsets all draw the same numbers for the same item.
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Sequence

import numpy as np


def stable_hash(*parts: object) -> int:
    """64-bit hash of the parts' string forms, identical across processes and Python versions."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "little")


def rng_for(seed: int, *parts: object) -> np.random.Generator:
    """A generator for one named item of a run."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_hash(*parts)])


def split_scenes(scene_ids: Sequence[str], seed: int, bench_fraction: float) -> dict[str, str]:
    """Assign each scene to "train" or "bench".

    The `round(bench_fraction * n)` scenes with the smallest hash of (seed, scene id) go to bench
    (at least one when the fraction is positive and there are two or more scenes, none when it is
    zero, all when it is one). Depends only on the seed and the set of ids, never on their order.
    """
    ids = sorted(set(scene_ids))
    n = len(ids)
    k = int(round(bench_fraction * n))
    if bench_fraction > 0 and n >= 2:
        k = max(k, 1)
    if bench_fraction < 1 and n >= 2:
        k = min(k, n - 1)
    ranked = sorted(ids, key=lambda s: (stable_hash("split", seed, s), s))
    bench = set(ranked[:k])
    return {s: ("bench" if s in bench else "train") for s in ids}


def segment_bounds(num_frames: int, segment_frames: int, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Up to `count` distinct segments [start, stop) of `segment_frames` frames, sorted by start.

    A scene no longer than a segment gives the single segment (0, num_frames).
    """
    if num_frames <= segment_frames:
        return [(0, num_frames)]
    n_starts = num_frames - segment_frames + 1
    starts = rng.choice(n_starts, size=min(count, n_starts), replace=False)
    return [(int(s), int(s) + segment_frames) for s in sorted(starts)]


def media_indices(start: int, stop: int, media_frames: int) -> list[int]:
    """Scene frame indices of `media_frames` images uniform over [start, stop), both ends included.

    The same rule as qa4d.bench.media.uniform_indices: round(linspace(first, last, n)), deduplicated.
    """
    last = stop - 1
    if stop - start <= media_frames:
        return list(range(start, stop))
    return [int(i) for i in np.unique(np.round(np.linspace(start, last, media_frames)).astype(np.int64))]


def choose(rng: np.random.Generator, items: Sequence, k: int) -> list:
    """k distinct items in random order (all of them, shuffled, when there are fewer)."""
    if k <= 0 or not items:
        return []
    idx = rng.permutation(len(items))[: min(k, len(items))]
    return [items[int(i)] for i in idx]


def weighted_choice(rng: np.random.Generator, weights: dict[str, float], allowed: Iterable[str] | None = None) -> str | None:
    """A key of `weights` drawn with its weight, among `allowed` keys (sorted for determinism)."""
    keys = sorted(k for k, w in weights.items() if w > 0 and (allowed is None or k in set(allowed)))
    if not keys:
        return None
    p = np.array([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def distinct_tuples(rng: np.random.Generator, pools: Sequence[Sequence[int]], count: int, max_tries: int = 200) -> list[tuple[int, ...]]:
    """Up to `count` distinct tuples (a, b, ...) with a from pools[0], b from pools[1], ..., all
    elements different within a tuple. Random, deterministic for a given rng."""
    out: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    if any(len(p) == 0 for p in pools):
        return out
    for _ in range(max_tries):
        if len(out) >= count:
            break
        t = tuple(int(p[int(rng.integers(len(p)))]) for p in pools)
        if len(set(t)) < len(t) or t in seen:
            continue
        seen.add(t)
        out.append(t)
    return out
