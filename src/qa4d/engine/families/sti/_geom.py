"""Pure NumPy geometry of the STI family: the levelled camera frame, paths, speeds, fits, boxes.

Every function works on plain arrays (shapes in the docstrings) so tests can feed closed-form
motion directly and the audit recomputes the same numbers from the scene.
"""

from __future__ import annotations

import math

import numpy as np


def level_frame(cam_to_world: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    """(3, 3) rows: the camera's levelled axes (right, forward, up) in world coordinates.

    cam_to_world: (4, 4) OpenCV camera (x right, y down, z forward). right is the camera's x axis
    made horizontal, forward = up x right (the viewing direction made horizontal). None when the
    camera's x axis is (nearly) vertical, where no horizontal right exists.
    """
    up = np.asarray(up, float) / np.linalg.norm(up)
    x = cam_to_world[:3, 0]
    r = x - (x @ up) * up
    n = np.linalg.norm(r)
    if n < 1e-6:
        return None
    r = r / n
    f = np.cross(up, r)
    return np.stack([r, f, up])


def relative_components(p_a: np.ndarray, p_b: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """(3,) components (right, forward, up) of p_a - p_b in a levelled frame (3, 3)."""
    return frame @ (np.asarray(p_a, float) - np.asarray(p_b, float))


def path_length(points: np.ndarray) -> float:
    """Length of the polyline through points (N, 3) (sum of consecutive distances)."""
    p = np.asarray(points, float)
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum()) if len(p) > 1 else 0.0


def displacement(points: np.ndarray) -> float:
    """Straight-line distance from the first to the last of points (N, 3)."""
    p = np.asarray(points, float)
    return float(np.linalg.norm(p[-1] - p[0]))


def average_speed(points: np.ndarray, times: np.ndarray) -> float:
    """Average speed (path length / duration) of points (N, 3) at times (N,) in seconds."""
    dt = float(times[-1] - times[0])
    if dt <= 0:
        raise ValueError("average_speed: the window has no duration")
    return path_length(points) / dt


def along_track(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Signed positions (N,) along the direction of the net displacement, and straightness
    |displacement| / path length (1 for motion on one line without turning back)."""
    p = np.asarray(points, float)
    d = p[-1] - p[0]
    n = np.linalg.norm(d)
    plen = path_length(p)
    if n <= 0 or plen <= 0:
        return np.zeros(len(p)), 0.0
    return (p - p[0]) @ (d / n), n / plen


def quadratic_fit(times: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    """Least-squares s(t) = s0 + v0 (t - t0) + a (t - t0)^2 / 2 over (N,) samples (N >= 3).

    Returns (a, v0, rms residual). Exact for motion under constant acceleration."""
    t = np.asarray(times, float) - float(times[0])
    a_mat = np.stack([np.ones_like(t), t, 0.5 * t * t], axis=1)
    coef, *_ = np.linalg.lstsq(a_mat, np.asarray(s, float), rcond=None)
    res = a_mat @ coef - s
    return float(coef[2]), float(coef[1]), float(np.sqrt(np.mean(res * res)))


def yaw_in_frame(rotation: np.ndarray, frame: np.ndarray) -> float:
    """Heading (degrees, in (-180, 180]) of an object's x axis in a levelled frame (3, 3):
    counter-clockwise seen from above, from the frame's right axis towards its forward axis.
    rotation: (3, 3) object -> world."""
    x = frame @ rotation[:, 0]
    deg = math.degrees(math.atan2(x[1], x[0]))
    return 180.0 if deg <= -180.0 else deg


def tilt_deg(rotation: np.ndarray, up: np.ndarray) -> float:
    """Angle (degrees) between an object's z axis and world up."""
    up = np.asarray(up, float) / np.linalg.norm(up)
    c = float(np.clip(rotation[:, 2] @ up, -1.0, 1.0))
    return math.degrees(math.acos(c))


def angle_diff(a: float, b: float, period: float = 360.0) -> float:
    """Smallest |a - b| modulo `period` (degrees)."""
    d = (a - b) % period
    return min(d, period - d)


def boxes_differ(a: dict, b: dict, tol: dict) -> bool:
    """Do two boxes {"dimensions": [dx, dy, dz] cm, "central_point": [x, y, z] m, "yaw": deg}
    differ by more than the tolerances (tol: "dimensions_rel", "dimensions_cm", "central_point_m",
    "yaw_deg")? A box is the same set of points after a half turn (yaw + 180) or a quarter turn
    with its x and y sizes swapped, so every such rewrite of b must differ from a."""
    da, db = np.asarray(a["dimensions"], float), np.asarray(b["dimensions"], float)
    ca, cb = np.asarray(a["central_point"], float), np.asarray(b["central_point"], float)
    if np.linalg.norm(ca - cb) > tol["central_point_m"]:
        return True
    for swap, period_shift in ((False, 0.0), (True, 90.0)):
        dbb = db[[1, 0, 2]] if swap else db
        dims_close = np.all(np.abs(da - dbb) <= np.maximum(tol["dimensions_rel"] * da, tol["dimensions_cm"]))
        yaw_close = angle_diff(a["yaw"], b["yaw"] + period_shift, 180.0) <= tol["yaw_deg"]
        if dims_close and yaw_close:
            return False
    return True
