"""Camera and object poses: relative motion, yaw/pitch about the world up axis, rotations."""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import invert_rigid


def relative_pose(cam_to_world_a: np.ndarray, cam_to_world_b: np.ndarray) -> np.ndarray:
    """Pose of camera b expressed in camera a's frame: inv(A) @ B.

    The translation column is b's position in a's camera axes (x right, y down, z forward), so
    a camera that moved right has a positive x, one that moved forward a positive z.
    cam_to_world_a, cam_to_world_b: (..., 4, 4). Returns (..., 4, 4).
    """
    return invert_rigid(cam_to_world_a) @ np.asarray(cam_to_world_b, dtype=np.float64)


def gravity_frame(world_up: np.ndarray) -> np.ndarray:
    """A rotation whose rows are a right-handed world basis (e1, e2, up).

    Maps world vectors into coordinates where the third axis is `world_up`, so the MultiSPA
    yaw/pitch formulas (written for a z-up world) hold for any up vector.
    world_up: (3,). Returns (3, 3).
    """
    up = np.asarray(world_up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = helper - up * (helper @ up)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    return np.stack([e1, e2, up])


def yaw_pitch(cam_to_world: np.ndarray, world_up: np.ndarray = (0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Yaw and pitch of cameras' viewing directions (MultiSPA, appendix E), in degrees.

    Yaw is the heading of the optical axis in the horizontal plane, measured counter-clockwise
    about `world_up` (seen from above); pitch is its elevation above the horizontal plane.
    cam_to_world: (..., 4, 4); world_up: (3,). Returns yaw (...,) in (-180, 180], pitch (...,) in [-90, 90].
    """
    fwd = np.asarray(cam_to_world, dtype=np.float64)[..., :3, 2]
    fwd = fwd @ gravity_frame(world_up).T
    yaw = np.degrees(np.arctan2(fwd[..., 1], fwd[..., 0]))
    norm = np.linalg.norm(fwd, axis=-1)
    pitch = np.degrees(np.arcsin(np.clip(fwd[..., 2] / norm, -1.0, 1.0)))
    return yaw, pitch


def wrap_degrees(angle: np.ndarray) -> np.ndarray:
    """Wrap angles to (-180, 180]. angle: (...,). Returns (...,)."""
    a = np.mod(np.asarray(angle, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.where(a == -180.0, 180.0, a)


def _vee_skew(r: np.ndarray) -> np.ndarray:
    """(R - R^T) as a vector: 2 sin(angle) * axis. r: (..., 3, 3). Returns (..., 3)."""
    return np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1)


def rotation_angle(rotation: np.ndarray) -> np.ndarray:
    """Angle of rotation matrices, in degrees. rotation: (..., 3, 3). Returns (...,) in [0, 180].

    atan2 of sine and cosine parts rather than arccos of the trace: arccos loses precision
    near 0, exactly where the engine compares small frame-to-frame rotations.
    """
    r = np.asarray(rotation, dtype=np.float64)
    sin = 0.5 * np.linalg.norm(_vee_skew(r), axis=-1)
    cos = 0.5 * (np.trace(r, axis1=-2, axis2=-1) - 1.0)
    return np.degrees(np.arctan2(sin, cos))


def rotation_vector(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (axis * angle in radians) of rotation matrices.

    rotation: (..., 3, 3). Returns (..., 3). Accurate away from 180 degrees, which is all the
    engine needs (it measures rotations between nearby frames).
    """
    r = np.asarray(rotation, dtype=np.float64)
    angle = np.radians(rotation_angle(r))
    s = np.sin(angle)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(s > 1e-12, angle / (2.0 * s), 0.5)  # small angles: axis*angle ~ vee(R - R^T)/2
    return _vee_skew(r) * scale[..., None]


def yaw_about_up(rotation: np.ndarray, world_up: np.ndarray = (0.0, 0.0, 1.0)) -> np.ndarray:
    """Signed rotation of rotation matrices about the world up axis, in degrees.

    Positive is counter-clockwise seen from above (looking down -up). Computed from the
    up-component of the axis-angle vector, so tilting contributes nothing.
    rotation: (..., 3, 3); world_up: (3,). Returns (...,).
    """
    up = np.asarray(world_up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    return np.degrees(rotation_vector(rotation) @ up)


def rotation_about_axis(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """Rotation matrix (3, 3) for a right-handed rotation of `angle_deg` about unit `axis` (3,)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    a = np.radians(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)
