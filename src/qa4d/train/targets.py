"""The 4D perception targets of a scene, exact from its ground truth (pure NumPy).

For frame t of a scene with z-depth, instance masks, object poses and cameras:
  depth   (H, W)      the scene's z-depth in metres (0 = no surface, invalid)
  flow    (H, W, 2)   optical flow t -> t+1 in pixels: each pixel's 3D point moved with its object
                      (background points are static), projected into camera t+1, minus its pixel
  motion  (H, W)      1 where the pixel's 3D point moves between t and t+1 by more than `eps` metres
  camray  (H, W, 6)   the pixel's camera ray as Plücker coordinates (direction d, moment c x d) in
                      the camera frame of a reference frame (the clip's first): d unit length
The last frame has no t+1: its flow and motion are marked invalid (`valid` False).
"""

from __future__ import annotations

import numpy as np

from qa4d.geometry.camera import invert_rigid, pixel_grid, project, transform_points, unproject

MODALITIES = {"depth": 1, "flow": 2, "motion": 1, "camray": 6}   # output channels (L4P's heads)


def moved_points(points_world: np.ndarray, instance: np.ndarray, object_ids: np.ndarray,
                 obj_t: np.ndarray, obj_t1: np.ndarray) -> np.ndarray:
    """World points carried from time t to t+1 by their objects' rigid motion.

    points_world: (H, W, 3); instance: (H, W) object id per pixel (0 = background, static);
    object_ids: (K,) the id of each pose row; obj_t, obj_t1: (K, 4, 4) object_to_world at t, t+1.
    Returns (H, W, 3).
    """
    out = points_world.copy()
    for k, oid in enumerate(object_ids):
        sel = instance == oid
        if sel.any():
            motion = obj_t1[k] @ invert_rigid(obj_t[k])
            out[sel] = transform_points(motion, points_world[sel])
    return out


def flow_and_motion(depth: np.ndarray, instance: np.ndarray, k_t: np.ndarray, k_t1: np.ndarray,
                    c2w_t: np.ndarray, c2w_t1: np.ndarray, object_ids: np.ndarray, obj_t: np.ndarray,
                    obj_t1: np.ndarray, eps: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flow t -> t+1 (H, W, 2) pixels, motion mask (H, W) float {0, 1}, valid (H, W) bool
    (a surface at t that lands in front of camera t+1). Arguments as in `moved_points`;
    k_*: (3, 3) intrinsics, c2w_*: (4, 4) cam_to_world."""
    h, w = depth.shape
    uv = pixel_grid(h, w)
    valid = depth > 0
    world = transform_points(c2w_t, unproject(uv, depth, k_t))
    moved = moved_points(world, instance, object_ids, obj_t, obj_t1)
    uv1, z1 = project(transform_points(invert_rigid(c2w_t1), moved), k_t1)
    valid &= np.isfinite(uv1).all(-1) & (z1 > 0)
    flow = np.where(valid[..., None], uv1 - uv, 0.0)
    motion = (np.linalg.norm(moved - world, axis=-1) > eps) & valid
    return flow, motion.astype(np.float64), valid


def camera_rays(k: np.ndarray, c2w: np.ndarray, c2w_ref: np.ndarray, height: int, width: int) -> np.ndarray:
    """Plücker rays (H, W, 6) = (d, c x d) of every pixel centre of a camera (k (3, 3), c2w (4, 4)),
    in the camera frame of the reference camera c2w_ref (4, 4); d unit length, c the camera centre."""
    rel = invert_rigid(c2w_ref) @ c2w                                  # camera -> reference frame
    d_cam = unproject(pixel_grid(height, width), np.ones((height, width)), k)
    d = d_cam @ rel[:3, :3].T
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    c = np.broadcast_to(rel[:3, 3], d.shape)
    return np.concatenate([d, np.cross(c, d)], axis=-1)


def scene_targets(scene, frames: np.ndarray, eps: float = 1e-3) -> dict[str, np.ndarray]:
    """Targets of the scene frames `frames` (T,) as one clip (rays relative to frames[0]).

    Returns depth (T, H, W), flow (T, H, W, 2), motion (T, H, W), camray (T, H, W, 6) and
    valid_depth, valid_flow (T, H, W) bool; flow/motion of a clip frame go to the next clip frame.
    Needs the scene arrays depth, instance_mask, object_to_world (static scenes: no objects)."""
    for name in ("depth", "instance_mask"):
        if not scene.has(name):
            raise ValueError(f"{scene.root}: the scene has no {name!r} array (needed for the teacher's targets)")
    h, w = scene.meta.height, scene.meta.width
    K, c2w = scene.intrinsics, scene.cam_to_world
    ids = np.array([o.id for o in scene.objects], dtype=np.int64)
    poses = scene.object_to_world if scene.has("object_to_world") else np.zeros((0, scene.num_frames, 4, 4))
    out = {k: [] for k in ("depth", "flow", "motion", "camray", "valid_depth", "valid_flow")}
    for i, t in enumerate(frames):
        depth = scene.depth[t].astype(np.float64)
        out["depth"].append(depth)
        out["valid_depth"].append(depth > 0)
        out["camray"].append(camera_rays(K[t], c2w[t], c2w[frames[0]], h, w))
        if i + 1 < len(frames):
            t1 = frames[i + 1]
            flow, motion, valid = flow_and_motion(depth, scene.instance_mask[t], K[t], K[t1], c2w[t], c2w[t1], ids,
                                                  poses[:, t], poses[:, t1], eps)
        else:
            flow, motion, valid = np.zeros((h, w, 2)), np.zeros((h, w)), np.zeros((h, w), bool)
        out["flow"].append(flow)
        out["motion"].append(motion)
        out["valid_flow"].append(valid)
    return {k: np.stack(v) for k, v in out.items()}
