"""Turning metric values into the integers answers carry (millimetres, whole degrees).

MultiSPA's paper says "round to nearest"; its released code rounds some answers with Python's
round() (half to even) and truncates others with int() (towards zero). Both are offered.
"""

from __future__ import annotations

import numpy as np

ROUNDINGS = ("nearest", "truncate", "floor")


def to_int(values: np.ndarray, rounding: str = "nearest") -> np.ndarray:
    """Integers from real values. values: (...,). Returns (...,) int64.

    rounding: "nearest" (half to even, like Python's round and np.rint), "truncate" (towards
    zero, like int()), or "floor".
    """
    v = np.asarray(values, dtype=np.float64)
    if rounding == "nearest":
        out = np.rint(v)
    elif rounding == "truncate":
        out = np.trunc(v)
    elif rounding == "floor":
        out = np.floor(v)
    else:
        raise ValueError(f"rounding must be one of {ROUNDINGS}, got {rounding!r}")
    return out.astype(np.int64)


def metres_to_mm(metres: np.ndarray, rounding: str = "nearest") -> np.ndarray:
    """Metres to integer millimetres. metres: (...,). Returns (...,) int64 (see `to_int`)."""
    return to_int(np.asarray(metres, dtype=np.float64) * 1000.0, rounding)
