"""Repeated events counted from an object's trajectory, with hysteresis so no count is in doubt."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from qa4d.engine import measure


def hops(z: np.ndarray, lo: float, hi: float) -> int | None:
    """Completed excursions of heights z (T,) above their minimum: each rises to >= hi and comes
    back to <= lo. None when the clip starts or ends off the ground (> lo) or a rise peaks
    between lo and hi (too small to call)."""
    h = np.asarray(z, float) - np.min(z)
    if h[0] > lo or h[-1] > lo:
        return None
    n, peak, up = 0, 0.0, False
    for v in h:
        if v > lo:
            up, peak = True, max(peak, v)
        elif up:
            if peak < hi:
                return None
            n, peak, up = n + 1, 0.0, False
    return n


def reversals(s: np.ndarray, lo: float, hi: float) -> int | None:
    """Direction changes of positions s (T,) along a line: a reversal is a retreat of >= hi from
    the running extreme of the current leg. None when a retreat stops between lo and hi."""
    s = np.asarray(s, float)
    d, e, n, retreat = 0, s[0], 0, 0.0
    for v in s[1:]:
        if d == 0:
            if abs(v - s[0]) >= hi:
                d, e = (1 if v > s[0] else -1), v
            continue
        if (v - e) * d >= 0:
            if lo < retreat < hi:
                return None  # came back after an unclear retreat
            e, retreat = v, 0.0
            continue
        retreat = max(retreat, abs(v - e))
        if retreat >= hi:
            n, d, e, retreat = n + 1, -d, v, 0.0
    if lo < retreat < hi:
        return None
    return n


def track(scene, oid: int, frames: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """(heights (T,), horizontal positions along the principal direction (T,)) of the object's
    centre, or None when a pose is unknown."""
    c = measure.object_centers(scene, scene.object_index(oid), frames)
    if not np.isfinite(c).all():
        return None
    up = np.asarray(scene.world_up, float)
    z = c @ up
    flat = c - np.outer(z, up)
    flat = flat - flat[0]
    far = flat[int(np.argmax(np.linalg.norm(flat, axis=1)))]
    norm = float(np.linalg.norm(far))
    return z, (flat @ (far / norm) if norm > 0 else np.zeros(len(c)))
