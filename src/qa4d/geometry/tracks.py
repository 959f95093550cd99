"""Imaging 3D point tracks: visual tracks (P2D) and true-motion tracks (M2D), visibility.

P2D (4DP-QA, Eq. 1): each point imaged by the camera of its own time, p[t] = Pi(K[t], T[t], X[t]).
M2D (4DP-QA, Eq. 2): each point imaged by the fixed camera of a reference time t_q,
m[t] = Pi(K[t_q], T[t_q], X[t]); camera motion is factored out, leaving the object's own motion.
"""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import in_image, project_world


def visual_tracks(
    tracks_world: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """P2D: project each point with the camera of its own frame.

    tracks_world: (N, T, 3); intrinsics: (T, 3, 3); cam_to_world: (T, 4, 4).
    Returns uv (N, T, 2) pixels and z (N, T) camera depth.
    """
    return project_world(tracks_world, intrinsics[None], cam_to_world[None])


def true_motion_tracks(
    tracks_world: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray, ref_frame: int
) -> tuple[np.ndarray, np.ndarray]:
    """M2D: project every frame's point with the fixed camera of `ref_frame`.

    tracks_world: (N, T, 3); intrinsics: (T, 3, 3); cam_to_world: (T, 4, 4); ref_frame in [0, T).
    Returns uv (N, T, 2) pixels and z (N, T) depth in the reference camera.
    """
    return project_world(tracks_world, intrinsics[ref_frame], cam_to_world[ref_frame])


def sample_pixels(image: np.ndarray, uv: np.ndarray, fill=np.nan) -> np.ndarray:
    """Nearest-pixel lookup of an image (depth, mask, ...) at pixel coordinates.

    image: (H, W); uv: (..., 2). Returns (...,) of image's dtype (float64 when `fill` is NaN),
    `fill` where uv falls outside the image.
    """
    h, w = image.shape
    inside = in_image(uv, w, h)
    uv = np.where(inside[..., None], uv, 0.0)
    col = np.clip(np.floor(uv[..., 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.floor(uv[..., 1]).astype(np.int64), 0, h - 1)
    return np.where(inside, image[row, col], fill)


def sample_depth(depth: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Nearest-pixel lookup of a depth map. depth: (H, W); uv: (..., 2). Returns (...,) float64, NaN outside."""
    return sample_pixels(depth.astype(np.float64, copy=False), uv)


def depth_test_visibility(
    uv: np.ndarray,
    z: np.ndarray,
    depth: np.ndarray,
    rel_tol: float = 0.03,
    abs_tol: float = 0.02,
) -> np.ndarray:
    """Visibility of projected points by a depth test against rendered depth maps.

    A point is visible in frame t when it projects inside the image, in front of the camera,
    onto a pixel with known depth (> 0), and its own depth is no more than
    max(abs_tol, rel_tol * z) behind the surface seen there (it is not occluded).

    uv: (N, T, 2) pixels in frame t's camera; z: (N, T); depth: (T, H, W), 0 = unknown.
    Returns (N, T) bool.
    """
    n, t_len = z.shape
    vis = np.zeros((n, t_len), dtype=bool)
    for t in range(t_len):
        d = sample_depth(depth[t], uv[:, t])
        with np.errstate(invalid="ignore"):
            tol = np.maximum(abs_tol, rel_tol * z[:, t])
            vis[:, t] = (z[:, t] > 0) & (d > 0) & (z[:, t] - d <= tol)
    return vis


def normalise_uv(uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels -> [0, 1] image coordinates. uv: (..., 2). Returns (..., 2)."""
    return np.asarray(uv, dtype=np.float64) / np.array([width, height], dtype=np.float64)
