"""Writing values into replies: number text, units and coordinate spaces (the baselines' side).

The `random`, `prior`, `oracle` and `obedient` replies of the formats are written with these. The
obedient model converts the ground truth into the unit and coordinate space an instruction names
with its own small table (as a person would), independent of the extractor's unit table.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Unit -> (dimension, size in the dimension's base unit): the obedient model's own table.
_UNIT_SIZE = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0), "km": ("length", 1000.0),
    "deg": ("angle", 1.0), "rad": ("angle", 180.0 / math.pi), "s": ("time", 1.0), "m/s": ("speed", 1.0),
}
# A coordinate space -> how many of its units span the image width and height (None: the frame size).
_COORD_SPAN = {"unit": 1.0, "per_mille": 1000.0, "pixels": None}


def short(x: float) -> str:
    """A number with at most 3 decimals, trailing zeros dropped ("0" for a non-finite one)."""
    return f"{x:.3f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def num(v: float) -> str:
    """A number with 6 significant digits."""
    return f"{float(v):.6g}"


def with_unit(value: str, item: Any) -> str:
    """`value` followed by the item's ground-truth unit, if it has one."""
    unit = item.meta.get("unit")
    return f"{value} {unit}" if unit else value


def in_unit(values: np.ndarray, unit: str | None, target: str | None) -> np.ndarray:
    """`values` in `unit` expressed in `target` (unchanged when either is None or they agree)."""
    if unit is None or target is None or unit == target:
        return values
    (d1, s1), (d2, s2) = _UNIT_SIZE[unit], _UNIT_SIZE[target]
    if d1 != d2:
        raise ValueError(f"cannot express {unit} in {target}")
    return values * s1 / s2


def in_coords(xy: np.ndarray, space: str, target: str, frame_size: tuple[float, float] | None) -> np.ndarray:
    """(..., 2) points from one coordinate space to another; frame_size (width, height) in pixels."""
    def span(sp: str) -> np.ndarray:
        if _COORD_SPAN[sp] is not None:
            return np.array([_COORD_SPAN[sp]] * 2)
        if frame_size is None:
            raise ValueError("pixel coordinates need the size of the frames shown")
        return np.asarray(frame_size, dtype=np.float64)

    return xy / span(space) * span(target)


def image_size(item: Any) -> tuple[float, float]:
    """(width, height) of the item's coordinate frame: pixels, 1 x 1 when normalised, or the
    0..coord_scale range of normalised coordinates (MultiSPA: 0-1000)."""
    if item.meta.get("coord_scale"):
        scale = float(item.meta["coord_scale"])
        return scale, scale
    for wk, hk in (("image_width", "image_height"), ("width", "height")):
        if wk in item.meta and hk in item.meta:
            return float(item.meta[wk]), float(item.meta[hk])
    size = item.meta.get("image_size")  # [height, width], as the loaders store it
    if isinstance(size, (list, tuple)) and len(size) == 2 and min(size) > 0:
        return float(size[1]), float(size[0])
    return 256.0, 256.0  # TAP-Vid's reference resolution
