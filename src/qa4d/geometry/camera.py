"""Pinhole cameras and rigid transforms. Pure NumPy, vectorised over leading axes.

Conventions: OpenCV camera axes (x right, y down, z forward); pixel (u, v) with (0, 0) at the
top-left corner of the top-left pixel, so the centre of pixel (i, j) is (j + 0.5, i + 0.5);
`cam_to_world` is a 4x4 rigid transform mapping camera coordinates to world coordinates.
"""

from __future__ import annotations

import numpy as np


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply rigid/affine transforms to points.

    transform: (..., 4, 4); points: (..., 3), leading axes broadcast.
    Returns (..., 3).
    """
    transform = np.asarray(transform, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    rot = transform[..., :3, :3]
    trans = transform[..., :3, 3]
    return np.einsum("...ij,...j->...i", rot, points) + trans


def invert_rigid(transform: np.ndarray) -> np.ndarray:
    """Inverse of rigid transforms [R t; 0 1] -> [R^T -R^T t; 0 1].

    transform: (..., 4, 4). Returns (..., 4, 4).
    """
    transform = np.asarray(transform, dtype=np.float64)
    rot_t = np.swapaxes(transform[..., :3, :3], -1, -2)
    out = np.zeros_like(transform)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, transform[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def rigid_error(transform: np.ndarray) -> np.ndarray:
    """How far transforms are from rigid: max of |R^T R - I|, |det R - 1| and the bottom row error.

    transform: (..., 4, 4). Returns (...,) float64; 0 for a perfect rigid transform, NaN for NaN input.
    """
    transform = np.asarray(transform, dtype=np.float64)
    rot = transform[..., :3, :3]
    ortho = np.abs(np.swapaxes(rot, -1, -2) @ rot - np.eye(3)).max(axis=(-1, -2))
    det = np.abs(np.linalg.det(rot) - 1.0)
    bottom = np.abs(transform[..., 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=-1)
    return np.maximum(np.maximum(ortho, det), bottom)


def project(points_cam: np.ndarray, intrinsics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project camera-frame points to pixels.

    points_cam: (..., 3); intrinsics: (..., 3, 3), broadcast against points.
    Returns uv (..., 2) and z (...,). Points with z <= 0 get uv = NaN (behind the camera).
    """
    points_cam = np.asarray(points_cam, dtype=np.float64)
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    z = points_cam[..., 2]
    fx, fy = intrinsics[..., 0, 0], intrinsics[..., 1, 1]
    cx, cy = intrinsics[..., 0, 2], intrinsics[..., 1, 2]
    skew = intrinsics[..., 0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):  # z <= 0 is masked to NaN below
        xy = points_cam[..., :2] / z[..., None]
        u = fx * xy[..., 0] + skew * xy[..., 1] + cx
        v = fy * xy[..., 1] + cy
    uv = np.stack([u, v], axis=-1)
    uv = np.where((z > 0)[..., None], uv, np.nan)
    return uv, z


def unproject(uv: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Back-project pixels with z-depth to camera-frame points (inverse of `project`).

    uv: (..., 2); depth: (...,) metres along the optical axis; intrinsics: (..., 3, 3).
    Returns (..., 3).
    """
    uv = np.asarray(uv, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    intrinsics = np.asarray(intrinsics, dtype=np.float64)
    fx, fy = intrinsics[..., 0, 0], intrinsics[..., 1, 1]
    cx, cy = intrinsics[..., 0, 2], intrinsics[..., 1, 2]
    skew = intrinsics[..., 0, 1]
    y = (uv[..., 1] - cy) / fy
    x = (uv[..., 0] - cx - skew * y) / fx
    return np.stack([x * depth, y * depth, depth], axis=-1)


def project_world(
    points_world: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Project world points through a camera.

    points_world: (..., 3); intrinsics: (..., 3, 3); cam_to_world: (..., 4, 4), all broadcast.
    Returns uv (..., 2) and camera z-depth (...,).
    """
    points_cam = transform_points(invert_rigid(cam_to_world), points_world)
    return project(points_cam, intrinsics)


def unproject_to_world(
    uv: np.ndarray, depth: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray
) -> np.ndarray:
    """Back-project pixels with z-depth to world points. Shapes as in `unproject`; returns (..., 3)."""
    return transform_points(cam_to_world, unproject(uv, depth, intrinsics))


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel-centre coordinates of an image. Returns (H, W, 2) float64, uv[i, j] = (j + .5, i + .5)."""
    v, u = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return np.stack([u, v], axis=-1)


def depth_to_points(depth: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-frame point map of a z-depth image.

    depth: (H, W); intrinsics: (3, 3). Returns (H, W, 3); pixels with depth 0 map to z = 0.
    """
    h, w = depth.shape
    return unproject(pixel_grid(h, w), depth, intrinsics)


def in_image(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """True where pixel coordinates fall inside the image. uv: (..., 2). Returns (...,) bool."""
    uv = np.asarray(uv)
    with np.errstate(invalid="ignore"):
        return (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0)) -> np.ndarray:
    """OpenCV cam_to_world for a camera at `eye` looking at `target`, image-up towards `up`.

    eye, target: (3,); up: (3,) world up. Returns (4, 4). Raises ValueError when the viewing
    direction is parallel to `up` (the roll is then undefined).
    """
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z = z / np.linalg.norm(z)
    up = np.asarray(up, dtype=np.float64)
    x = np.cross(z, up)  # camera x (right) = forward x up, because image y points down
    n = np.linalg.norm(x)
    if n < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    x = x / n
    y = np.cross(z, x)
    out = np.eye(4)
    out[:3, 0], out[:3, 1], out[:3, 2], out[:3, 3] = x, y, z, eye
    return out


def intrinsics_from_fov(width: int, height: int, fov_y_deg: float) -> np.ndarray:
    """Pinhole intrinsics with square pixels and centred principal point. Returns (3, 3)."""
    fy = 0.5 * height / np.tan(np.deg2rad(fov_y_deg) / 2.0)
    return np.array([[fy, 0.0, width / 2.0], [0.0, fy, height / 2.0], [0.0, 0.0, 1.0]])
