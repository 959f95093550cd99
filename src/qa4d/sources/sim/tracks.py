"""Dense 3D point tracks of a simulated scene, with visibility.

Object tracks are points sampled uniformly on each object's visual surface in its object frame
and carried through time by `object_to_world`; background tracks are pixels of the static
background (ground, props) back-projected from the depth of a few frames, constant in time.
A point is visible in frame t when it passes the depth test against the rendered depth and the
instance mask at its pixel belongs to its owner (so a point cannot be "seen" on another object
that happens to lie at the same depth).
"""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import invert_rigid, unproject_to_world


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """geometry.camera.transform_points, for the broadcast shapes of tracks ((1, T, 4, 4) with
    (N, T, 3), or (T, 4, 4) with (N, 1, 3)): 9x faster than its einsum, whose generic broadcast
    loop dominates there, with the same arithmetic: out_i = ((R_i0 x + R_i2 z) + R_i1 y) + t_i,
    the order in which NumPy's einsum adds the three products (so the tracks and visibility keep
    their bits; tests/sources/test_sim_tracks.py).

    transform: (..., 4, 4); points: (..., 3). Returns (..., 3) float64.
    """
    transform = np.asarray(transform, dtype=np.float64)
    points = np.asarray(points, dtype=np.float64)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    out = np.empty(np.broadcast_shapes(transform.shape[:-2], points.shape[:-1]) + (3,))
    for i in range(3):
        r = transform[..., i, :]
        out[..., i] = ((r[..., 0] * x + r[..., 2] * z) + r[..., 1] * y) + r[..., 3]
    return out


def object_tracks(
    points_obj: list[np.ndarray], object_to_world: np.ndarray, ids: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Carry object-frame points through time.

    points_obj: K arrays (n_k, 3) in each object's frame; object_to_world: (K, T, 4, 4);
    ids: K object ids. Returns tracks (sum n_k, T, 3) float64 and owners (sum n_k,) int32.
    """
    tracks, owners = [], []
    for k, pts in enumerate(points_obj):
        tracks.append(transform_points(object_to_world[k][None, :, :, :], pts[:, None, :]))
        owners.append(np.full(len(pts), ids[k], dtype=np.int32))
    if not tracks:
        t = object_to_world.shape[1] if object_to_world.ndim == 4 else 0
        return np.zeros((0, t, 3)), np.zeros(0, dtype=np.int32)
    return np.concatenate(tracks), np.concatenate(owners)


def background_tracks(
    depth: np.ndarray,
    mask: np.ndarray,
    intrinsics: np.ndarray,
    cam_to_world: np.ndarray,
    n: int,
    rng: np.random.Generator,
    source_frames: tuple[int, ...] | None = None,
    max_depth: float = 20.0,
) -> np.ndarray:
    """Static background points back-projected from background pixels (mask 0, known depth).

    depth, mask: (T, H, W); intrinsics: (T, 3, 3); cam_to_world: (T, 4, 4).
    Points are drawn evenly from `source_frames` (default first, middle and last frame) so a
    moving camera also gets tracks on what it only sees later. Returns (m, 3) world points,
    m <= n (fewer when the background is mostly hidden).
    """
    t_len, h, w = depth.shape
    frames = source_frames if source_frames is not None else tuple(sorted({0, t_len // 2, t_len - 1}))
    per = [n // len(frames) + (1 if i < n % len(frames) else 0) for i in range(len(frames))]
    out = []
    for t, k in zip(frames, per):
        ok = (mask[t] == 0) & (depth[t] > 0) & (depth[t] < max_depth)
        rows, cols = np.nonzero(ok)
        if len(rows) == 0 or k == 0:
            continue
        pick = rng.choice(len(rows), size=min(k, len(rows)), replace=False)
        pick.sort()  # order of points follows the image, independent of the draw order
        r, c = rows[pick], cols[pick]
        uv = np.stack([c + 0.5, r + 0.5], axis=-1)  # pixel centres, as geometry.camera.pixel_grid
        out.append(unproject_to_world(uv, depth[t, r, c], intrinsics[t], cam_to_world[t]))
    return np.concatenate(out) if out else np.zeros((0, 3))


def track_visibility(
    tracks_world: np.ndarray,
    owners: np.ndarray,
    intrinsics: np.ndarray,
    cam_to_world: np.ndarray,
    depth: np.ndarray,
    mask: np.ndarray,
    rel_tol: float = 0.03,
    abs_tol: float = 0.02,
) -> np.ndarray:
    """Visibility of tracks: depth test (geometry.depth_test_visibility) and owner == mask id.

    tracks_world: (N, T, 3); owners: (N,) object id or 0; intrinsics: (T, 3, 3);
    cam_to_world: (T, 4, 4); depth, mask: (T, H, W) (mask: object ids, any integer dtype).
    Returns (N, T) bool.
    """
    n, t_len, _ = tracks_world.shape
    if n == 0:
        return np.zeros((0, t_len), dtype=bool)
    # P2D (geometry.tracks.visual_tracks): each point through the camera of its own frame. What
    # geometry.camera.project, in_image, depth_test_visibility and sample_pixels compute frame by
    # frame, for all frames at once and only at the points inside the image: the same float64
    # operations in the same order, the same nearest pixels (same result, bit for bit;
    # tests/sources/test_sim_tracks.py), without 2 T small calls or whole-array passes.
    pts = transform_points(invert_rigid(cam_to_world)[None], tracks_world)  # (N, T, 3) camera frame
    k = np.asarray(intrinsics, dtype=np.float64)
    z = pts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = pts[..., 0] / z, pts[..., 1] / z
        u = k[:, 0, 0] * x + k[:, 0, 1] * y + k[:, 0, 2]
        v = k[:, 1, 1] * y + k[:, 1, 2]
        h, w = depth.shape[1:]
        inside = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)  # False where any is NaN
    at = np.flatnonzero(inside)  # (track, frame) pairs as flat indices of (N, T)
    col = np.floor(u.ravel()[at]).astype(np.int64)  # in 0..w-1 inside the image
    row = np.floor(v.ravel()[at]).astype(np.int64)
    pix = (at % t_len) * (h * w) + row * w + col  # pixel (t, row, col) of the (T, H, W) maps
    d = np.ravel(depth).take(pix).astype(np.float64)
    zi = z.ravel()[at]
    tol = np.maximum(abs_tol, rel_tol * zi)
    # the depth test (z > 0 holds inside), then the owner test, for a mask of any integer dtype
    ok = (d > 0) & (zi - d <= tol) & (np.ravel(mask).take(pix) == owners[at // t_len])
    vis = np.zeros(n * t_len, dtype=bool)
    vis[at[ok]] = True
    return vis.reshape(n, t_len)
