"""Exact Euclidean distance transform of a binary image, in NumPy (no SciPy).

For every pixel, the squared Euclidean distance (an integer) to the nearest background pixel,
computed in two separable passes (as in Felzenszwalb & Huttenlocher's and Meijster's exact
algorithms): first along one axis, the distance g to the nearest background pixel of the same
line; then along the other, d2[i, j] = min_k g[i, k]^2 + (j - k)^2. The second pass is a plain
minimum over k (no lower envelope), vectorised, run along the shorter axis of the image: its cost
is H * W * min(H, W), small for the bounding boxes of objects it is used on.
"""

from __future__ import annotations

import numpy as np

# rows of the second pass per block: the (rows, n, n) array of candidate distances stays below
# about 2**20 elements
_BLOCK_ELEMENTS = 1 << 20


def squared_edt(mask: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance from each pixel to the nearest pixel where `mask` is False.

    mask: (H, W) bool (True = foreground). Returns (H, W) int64: 0 on background pixels; for a
    foreground pixel (i, j), min over background pixels (k, l) of (i - k)**2 + (j - l)**2.
    Pixels outside the image do not count as background; an image without any background pixel
    gets -1 everywhere (no distance exists), so callers decide what the edge means (pad the mask
    with a ring of False to make the border count as background).
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask: expected (H, W), got shape {m.shape}")
    if m.size == 0:
        return np.zeros(m.shape, np.int64)
    if m.all():
        return np.full(m.shape, -1, np.int64)
    if m.shape[0] < m.shape[1]:  # the quadratic second pass runs along the shorter axis
        return _squared_edt(m.T).T.copy()
    return _squared_edt(m)


def _squared_edt(m: np.ndarray) -> np.ndarray:
    """squared_edt for an (H, W) mask with H >= W and at least one background pixel."""
    h, w = m.shape
    big = h + w  # larger than any distance inside the image: "no background on this line"
    g = _line_distance(m, big)                       # (H, W) distance to background down column j
    g2 = g * g
    cols = np.arange(w, dtype=np.int64)
    dj2 = (cols[:, None] - cols[None, :]) ** 2       # (W, W): (j - k)^2
    out = np.empty((h, w), np.int64)
    step = max(1, _BLOCK_ELEMENTS // (w * w))
    for r0 in range(0, h, step):
        block = g2[r0:r0 + step]                      # (B, W) over k
        out[r0:r0 + step] = (block[:, None, :] + dj2[None, :, :]).min(axis=2)
    return out


def _line_distance(m: np.ndarray, big: int) -> np.ndarray:
    """For each pixel of an (H, W) mask, |i - k| to the nearest background row k of its column
    (`big` when the column has none). Returns (H, W) int64."""
    h = m.shape[0]
    rows = np.arange(h, dtype=np.int64)[:, None]
    bg = ~m
    above = np.where(bg, rows, -big)                       # last background at or above
    np.maximum.accumulate(above, axis=0, out=above)
    below = np.where(bg, rows, h + big)                    # first background at or below
    below = np.minimum.accumulate(below[::-1], axis=0)[::-1]
    return np.minimum(np.minimum(rows - above, below - rows), big)


def deepest_pixel(mask: np.ndarray) -> tuple[int, int]:
    """The pixel of a non-empty mask farthest (Euclidean) from every pixel outside it, the image
    border counting as outside; ties go to the first in raster order.

    mask: (H, W) bool with at least one True. Returns (row, col).

    The transform runs on the mask's bounding box with a one-pixel ring of background around it,
    not on the whole frame: every ring pixel is outside the mask (in the frame, or past its
    border), and for a pixel inside the box, any outside pixel beyond the ring has a ring pixel at
    least as close (clamp its row and column to the ring), so each distance -- and hence the argmax
    and its raster-order tie-break -- is the whole-frame one. Squared distances are integers, so
    the comparison is exact.
    """
    m = np.asarray(mask, dtype=bool)
    rows = np.flatnonzero(m.any(axis=1))
    cols = np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        raise ValueError("deepest_pixel: the mask is empty")
    r0, c0 = int(rows[0]), int(cols[0])
    box = np.zeros((int(rows[-1]) - r0 + 3, int(cols[-1]) - c0 + 3), dtype=bool)
    box[1:-1, 1:-1] = m[r0:r0 + box.shape[0] - 2, c0:c0 + box.shape[1] - 2]
    i, j = np.unravel_index(int(np.argmax(squared_edt(box))), box.shape)
    return int(i) - 1 + r0, int(j) - 1 + c0
