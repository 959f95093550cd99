"""Which scene points each frame sees (MultiSPA Eq. 3) and how much two views share (Eq. 4).

Pixel convention (see `camera.py`): (0, 0) is the top-left corner of the top-left pixel, so the
pixel a projection (u, v) falls in is (floor(v), floor(u)) and that pixel's centre is the one
nearest to (u, v). MultiSPA's released code indexes the depth map at round(u), round(v) in
ScanNet's convention where pixel centres sit on integers: the same pixel, the nearest centre.
"""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import in_image, project_world


def depth_at(depth: np.ndarray, uv: np.ndarray, width: int, height: int) -> np.ndarray:
    """Depth-map value under projections given in image pixels (nearest pixel centre).

    The depth map may have another resolution than the image: uv is rescaled by
    (W_depth / width, H_depth / height) first, as MultiSPA does.
    depth: (Hd, Wd); uv: (..., 2) image pixels. Returns (...,) float64, NaN where uv is outside
    the image or not finite.
    """
    depth = np.asarray(depth, dtype=np.float64)
    hd, wd = depth.shape
    uv = np.asarray(uv, dtype=np.float64)
    inside = in_image(uv, width, height)
    safe = np.where(inside[..., None], uv, 0.0)
    col = np.clip(np.floor(safe[..., 0] * (wd / width)).astype(np.int64), 0, wd - 1)
    row = np.clip(np.floor(safe[..., 1] * (hd / height)).astype(np.int64), 0, hd - 1)
    return np.where(inside, depth[row, col], np.nan)


def visible_points(
    points_world: np.ndarray,
    intrinsics: np.ndarray,
    cam_to_world: np.ndarray,
    depth: np.ndarray,
    width: int,
    height: int,
    tolerance: float = 0.0,
) -> np.ndarray:
    """Visible set of every frame (MultiSPA Eq. 3): P_t = {p : inside image t and 0 < z < D_t(u, v)}.

    A point is visible in frame t when it projects inside the image (0 <= u < width,
    0 <= v < height), lies in front of the camera (z > 0), the depth map holds a valid value
    there (> 0; 0 and NaN mean unknown) and z < D + tolerance. The paper has no tolerance
    (default 0, strict inequality): a point lying exactly on the surface the depth map records is
    then NOT visible, so scenes whose points are sampled from their own depth maps need a small
    tolerance (metres).

    points_world: (N, 3); intrinsics: (T, 3, 3) or (3, 3); cam_to_world: (T, 4, 4);
    depth: (T, Hd, Wd) metres along the optical axis. Returns visible (N, T) bool.
    """
    pts = np.asarray(points_world, dtype=np.float64)
    c2w = np.asarray(cam_to_world, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"visible_points: points_world must be (N, 3), got {pts.shape}")
    if c2w.ndim != 3 or c2w.shape[1:] != (4, 4) or np.ndim(depth) != 3 or len(depth) != len(c2w):
        raise ValueError(f"visible_points: cam_to_world (T, 4, 4) and depth (T, H, W) must agree, got "
                         f"{c2w.shape} and {np.shape(depth)}")
    k = np.broadcast_to(np.asarray(intrinsics, dtype=np.float64), (len(c2w), 3, 3))
    out = np.zeros((len(pts), len(c2w)), dtype=bool)
    for t in range(len(c2w)):
        uv, z = project_world(pts, k[t], c2w[t])
        d = depth_at(depth[t], uv, width, height)
        with np.errstate(invalid="ignore"):
            out[:, t] = (z > 0) & (d > 0) & (z < d + tolerance)
    return out


def overlap_ratio(visible_a: np.ndarray, visible_b: np.ndarray) -> np.ndarray:
    """Overlap of two views as the IoU of their visible point sets (MultiSPA, Eq. 4).

    visible_a, visible_b: (..., N) bool, visibility of the same N scene points in each view.
    Returns (...,) float64 in [0, 1]; 0 when neither view sees any point.
    """
    a = np.asarray(visible_a, dtype=bool)
    b = np.asarray(visible_b, dtype=bool)
    inter = np.count_nonzero(a & b, axis=-1)
    union = np.count_nonzero(a | b, axis=-1)
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def pairwise_overlap(visible: np.ndarray) -> np.ndarray:
    """Overlap ratio (Eq. 4) of every pair of frames from one matrix product.

    |P_i & P_j| is the (i, j) entry of V^T V for the 0/1 matrix V; |P_i | P_j| =
    |P_i| + |P_j| - |P_i & P_j|. Counts are exact (float64 sums of 0/1 below 2**53), and the
    ratio is computed as inter / union like `overlap_ratio`, so both agree bit for bit.
    visible: (N, T) bool. Returns (T, T) float64 in [0, 1], symmetric; 0 where neither frame
    sees a point, 1 on the diagonal of frames that see something.
    """
    v = np.asarray(visible, dtype=bool)
    vf = v.astype(np.float64)
    inter = np.rint(vf.T @ vf).astype(np.int64)
    count = np.count_nonzero(v, axis=0)
    union = count[:, None] + count[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)
