"""Closed-form motion of scripted (kinematic) objects: functions of normalised time s in [0, 1],
so tests can check them without rendering (`scripted_pose`, `closed_form_object_pose`)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from qa4d.geometry.poses import rotation_about_axis

if TYPE_CHECKING:
    from qa4d.sources.sim.spec import ObjectSpec


def _ramp(s: float, start: float, end: float) -> float:
    """Progress in [0, 1] of a motion that runs linearly over [start, end] of the clip."""
    if end <= start:
        return 1.0 if s >= end else 0.0
    return min(1.0, max(0.0, (s - start) / (end - start)))  # plain floats: called every sub-step


def yaw_rotation(angle_deg: float) -> np.ndarray:
    """`rotation_about_axis((0, 0, 1), angle_deg)` (3, 3), bit for bit (same operations in the same
    order, signed zeros included), without its general-axis algebra: scene sampling, physics
    sub-steps and camera paths call it thousands of times per scene."""
    a = np.radians(angle_deg)
    s, c = np.sin(a), np.cos(a)
    d = 1.0 + (1 - c) * -1.0  # eye + sin k + (1 - cos) k @ k, entry by entry
    out = np.zeros((3, 3))
    out[0, 0] = out[1, 1] = d
    out[0, 1] = 0.0 + s * -1.0
    out[1, 0] = 0.0 + s * 1.0
    out[2, 2] = 1.0
    return out


def heading_of(obj: ObjectSpec, yaw_deg: float) -> np.ndarray:
    """World heading (unit, horizontal) of an object's forward axis at yaw `yaw_deg`. Returns (3,)."""
    rot = yaw_rotation(yaw_deg) @ upright_rotation(obj)
    f = rot @ np.asarray(obj.forward_axis, dtype=np.float64)
    f[2] = 0.0
    return f / np.linalg.norm(f)


def upright_rotation(obj: ObjectSpec) -> np.ndarray:
    """Rotation (3, 3) from the URDF frame to the upright pose (extrinsic x, y, z = roll, pitch, yaw)."""
    return _upright(tuple(float(v) for v in obj.upright_rpy_deg)).copy()


@lru_cache(maxsize=64)
def _upright(rpy_deg: tuple[float, float, float]) -> np.ndarray:
    r, p, y = rpy_deg
    return rotation_about_axis((0, 0, 1), y) @ rotation_about_axis((0, 1, 0), p) @ rotation_about_axis((1, 0, 0), r)


def scripted_pose(obj: ObjectSpec, s: float) -> tuple[np.ndarray, float]:
    """Offset of a kinematic object's reference point from its start and its yaw at time s.

    Returns (offset (3,) metres, yaw in degrees). For physics objects: zero offset, start yaw.
    """
    m = obj.motion
    u = _ramp(s, m.start, m.end)
    if m.kind == "translate":  # optionally spinning about world up on the way (yaw_deg)
        d = m.displacement
        return np.array([d[0] * u, d[1] * u, d[2] * u]), obj.yaw_deg + m.yaw_deg * u
    if m.kind == "rotate":
        return np.zeros(3), obj.yaw_deg + m.yaw_deg * u
    if m.kind == "agent":
        h0 = heading_of(obj, obj.yaw_deg)
        th0 = np.arctan2(h0[1], h0[0])
        dth = np.radians(m.yaw_deg)
        if abs(dth) < 1e-9:
            off = m.distance * u * np.array([np.cos(th0), np.sin(th0), 0.0])
        else:  # constant speed along a circular arc
            th = th0 + dth * u
            r = m.distance / dth
            off = r * np.array([np.sin(th) - np.sin(th0), -(np.cos(th) - np.cos(th0)), 0.0])
        return off, obj.yaw_deg + m.yaw_deg * u
    if m.kind == "accelerate":  # constant acceleration along the displacement
        f = (1.0 - m.ease) * u + m.ease * u * u
        d = m.displacement
        return np.array([d[0] * f, d[1] * f, d[2] * f]), obj.yaw_deg
    if m.kind == "oscillate":  # triangle wave: 2 count legs of equal time, ends where it started
        legs = 2 * max(int(m.count), 1)
        leg, frac = divmod(u * legs, 1.0)
        if leg >= legs:
            leg, frac = legs - 1, 1.0
        f = frac if int(leg) % 2 == 0 else 1.0 - frac
        d = m.displacement
        return np.array([d[0] * f, d[1] * f, d[2] * f]), obj.yaw_deg
    if m.kind == "hop":  # parabolas z = 4 h q (1 - q) over each hop q in [0, 1]
        n = max(int(m.count), 1)
        hop, q = divmod(u * n, 1.0)
        if hop >= n:
            q = 0.0
        return np.array([0.0, 0.0, 4.0 * m.displacement[2] * q * (1.0 - q)]), obj.yaw_deg
    return np.zeros(3), obj.yaw_deg


def scripted_speed(obj: ObjectSpec, duration: float) -> float:
    """Nominal speed (m/s) of a scripted motion while it runs; 0 for others."""
    m = obj.motion
    span = max(m.end - m.start, 1e-9) * duration
    if m.kind in ("translate", "accelerate"):
        return float(np.linalg.norm(m.displacement)) / span
    if m.kind == "oscillate":  # mean speed along the path
        return 2 * max(m.count, 1) * float(np.linalg.norm(m.displacement)) / span
    if m.kind == "hop":
        return 2 * max(m.count, 1) * abs(m.displacement[2]) / span
    if m.kind == "agent":
        return m.distance / span
    return 0.0


def closed_form_object_pose(obj: ObjectSpec, s: float) -> np.ndarray:
    """Object -> world (4, 4) of a kinematic object at time s, up to a constant shift.

    The centre is approximated by the footprint centre at half the box height; the physics world
    centres the frame on the visual box exactly. Motion (differences between times) is exact.
    """
    off, yaw = scripted_pose(obj, s)
    out = np.eye(4)
    out[:3, :3] = yaw_rotation(yaw) @ upright_rotation(obj)
    out[:3, 3] = np.array([obj.position[0], obj.position[1], obj.position[2] + 0.5 * obj.approx_extent[2]]) + off
    return out
