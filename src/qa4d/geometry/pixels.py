"""Point references in images: the 0-999 coordinate scale (MultiSPA Eq. 1) and dot colours.

Eq. 1: x_norm = floor(x / W * 1000), y_norm = floor(y / H * 1000), origin at the top-left
corner, x along the width. MultiSPA's released code rounds instead of flooring (Python round,
half to even), which can give 1000 for a point in the last 0.05% of the image.
"""

from __future__ import annotations

import numpy as np

SCALE = 1000
PALETTE = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0), (255, 255, 255))  # MultiSPA's fallback


def normalise_pixels(uv: np.ndarray, width: int, height: int, rounding: str = "floor") -> np.ndarray:
    """Pixels (u, v) to the 0-999 scale of Eq. 1.

    rounding: "floor" (the paper; 0..999 for points inside the image) or "nearest" (MultiSPA's
    code, half to even; may give 1000). uv: (..., 2) pixels, (0, 0) the top-left corner.
    Returns (..., 2) int64.
    """
    s = np.asarray(uv, dtype=np.float64) / np.array([width, height], dtype=np.float64) * SCALE
    if rounding == "floor":
        return np.floor(s).astype(np.int64)
    if rounding == "nearest":
        return np.rint(s).astype(np.int64)
    raise ValueError(f"rounding must be 'floor' or 'nearest', got {rounding!r}")


def pixels_from_normalised(xy: np.ndarray, width: int, height: int, rounding: str = "floor") -> np.ndarray:
    """Pixel position a 0-999 coordinate stands for: the centre of its cell (floor) or the value itself (nearest).

    Inverse of `normalise_pixels` up to the quantisation: normalise(pixels_from_normalised(q)) == q.
    xy: (..., 2). Returns (..., 2) float64 pixels.
    """
    q = np.asarray(xy, dtype=np.float64)
    if rounding == "floor":
        q = q + 0.5
    elif rounding != "nearest":
        raise ValueError(f"rounding must be 'floor' or 'nearest', got {rounding!r}")
    return q / SCALE * np.array([width, height], dtype=np.float64)


def colour_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RGB L1 distance. a, b: (..., 3) 0-255. Returns (...,) int64."""
    return np.abs(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)).sum(axis=-1)


def distinct_colours(
    n: int,
    rng: np.random.Generator,
    min_distance: int = 300,
    max_tries: int = 10,
    palette: tuple = PALETTE,
) -> np.ndarray:
    """Dot colours that differ pairwise by an RGB L1 distance above `min_distance` (MultiSPA's rule).

    Up to `max_tries` uniformly random colours are drawn in turn; each is kept when it is farther
    than `min_distance` from every colour kept so far. If fewer than n are kept, the rest are
    drawn without replacement from `palette` (red, green, blue, black, white), as MultiSPA does;
    those fallback colours are not checked against the random ones.
    rng: numpy Generator. Returns (n, 3) int64 in 0..255.
    """
    kept: list[np.ndarray] = []
    for _ in range(max_tries):
        if len(kept) >= n:
            break
        c = rng.integers(0, 256, size=3)
        if all(colour_distance(c, k) > min_distance for k in kept):
            kept.append(c)
    missing = n - len(kept)
    if missing > len(palette):
        raise ValueError(f"distinct_colours: {n} colours asked, only {len(kept)} drawn and {len(palette)} in the palette")
    if missing > 0:
        pick = rng.choice(len(palette), size=missing, replace=False)
        kept.extend(np.asarray(palette[i], dtype=np.int64) for i in pick)
    return np.asarray(kept, dtype=np.int64).reshape(n, 3)


def random_distractors(
    true_pixel: np.ndarray,
    n: int,
    width: int,
    height: int,
    rng: np.random.Generator,
    margin: int = 10,
    min_distance: float = 0.0,
    max_draws: int = 10_000,
) -> np.ndarray:
    """Wrong answers for the correspondence MCQ: uniformly random integer pixels (MultiSPA "Easy").

    Each distractor is drawn with x in [0, width - margin] and y in [0, height - margin]
    (inclusive, as MultiSPA's randint) and rejected when it equals `true_pixel` (MultiSPA's only
    rule) or, with min_distance > 0, lies within min_distance pixels of it or of an earlier
    distractor. true_pixel: (2,) integer (col, row). Returns (n, 2) int64. Raises ValueError when
    `max_draws` draws do not give n distractors.
    """
    true = np.asarray(true_pixel, dtype=np.int64)
    kept: list[np.ndarray] = []
    for _ in range(max_draws):
        if len(kept) == n:
            break
        c = np.array([rng.integers(0, width - margin + 1), rng.integers(0, height - margin + 1)], dtype=np.int64)
        if np.array_equal(c, true):
            continue
        if min_distance > 0 and any(np.hypot(*(c - o)) < min_distance for o in [true, *kept]):
            continue
        kept.append(c)
    if len(kept) < n:
        raise ValueError(f"random_distractors: only {len(kept)} of {n} distractors in {max_draws} draws")
    return np.asarray(kept, dtype=np.int64).reshape(n, 2)
