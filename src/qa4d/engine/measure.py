"""Continuous measurements of a scene segment: what is true, before anything is put into words.

Every function takes the scene (or its arrays) and `frames`, the scene frame indices of one
segment in increasing order, and returns plain floats / NumPy arrays; labels.py turns them into
canonical labels. Units are metres and degrees.

Reference systems, fixed once for the whole engine:
- camera axes are OpenCV (x right, y down, z forward); "the first camera" is the camera of
  frames[0];
- "seen from above" means looking down along -world_up; counter-clockwise (CCW) is the positive
  sense of rotation about world_up (right-hand rule);
- an object's position is the centre of its box. The scene format defines `object_extent` as a
  box centred on the object origin, so the centre is the translation column of object_to_world.

Unknown object poses are NaN in the scene; measurements skip those frames and return NaN when too
few known frames remain (labels.py maps NaN to "no label", so such samples are dropped).
"""

from __future__ import annotations

import weakref
from typing import Any, Sequence

import numpy as np

from qa4d.geometry.distance_transform import deepest_pixel
from qa4d.geometry import (
    in_image,
    project_world,
    true_motion_tracks,
    visual_tracks,
    wrap_degrees,
    yaw_about_up,
)

__all__ = [
    "agent_motion",
    "camera_motion",
    "camera_motion_scene",
    "deepest_pixel",
    "distance_series_camera",
    "distance_series_objects",
    "is_moving",
    "is_static",
    "object_centers",
    "object_circle",
    "object_depth",
    "object_direction",
    "object_object_distance",
    "object_pixel",
    "object_rotation",
    "object_seen",
    "object_size",
    "path_length",
    "scene_scale",
    "tracks_2d",
    "visible_fraction",
]

_EPS = 1e-9


# ----------------------------------------------------------------------------- helpers


def _frames(frames: Sequence[int] | np.ndarray, num_frames: int | None = None) -> np.ndarray:
    f = np.asarray(frames, dtype=np.int64).reshape(-1)
    if f.size == 0:
        raise ValueError("frames: empty segment")
    if np.any(np.diff(f) <= 0):
        raise ValueError(f"frames: must be strictly increasing, got {f.tolist()}")
    if f[0] < 0 or (num_frames is not None and f[-1] >= num_frames):
        raise ValueError(f"frames: indices {f.tolist()} outside [0, {num_frames})")
    return f


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray | None:
    """Unit horizontal component of v (3,), or None when v is (nearly) vertical."""
    h = v - up * (v @ up)
    n = np.linalg.norm(h)
    return None if n < 1e-6 else h / n


def _path(points: np.ndarray) -> float:
    """Length of a polyline (F, 3) through its finite points."""
    p = points[np.isfinite(points).all(axis=1)]
    if len(p) < 2:
        return float("nan") if len(p) == 0 else 0.0
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())


def _object_poses(scene: Any, object_index: int, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Object poses on the segment, known frames only: (frames_known (M,), poses (M, 4, 4))."""
    o2w = np.asarray(scene.object_to_world[object_index][frames], dtype=np.float64)
    known = np.isfinite(o2w).all(axis=(1, 2))
    return frames[known], o2w[known]


def _angle(rotation: np.ndarray) -> np.ndarray:
    """Rotation angles (degrees) of (..., 3, 3) matrices, via atan2(sin, cos): accurate near 0,
    where arccos of the trace (geometry.rotation_angle) loses half the digits."""
    r = np.asarray(rotation, dtype=np.float64)
    vee = np.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1)
    cos = (np.trace(r, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arctan2(np.linalg.norm(vee, axis=-1) / 2.0, cos))


def _cumulative_yaw(rotations: np.ndarray, up: np.ndarray) -> float:
    """Sum of frame-to-frame yaws about `up` of world-frame rotations (M, 3, 3), in degrees.

    Each increment R[t+1] R[t]^T is the rotation applied in world coordinates between two frames;
    summing small increments never wraps around, so a 400 degree spin reads as 400.
    """
    if len(rotations) < 2:
        return float("nan")
    inc = rotations[1:] @ np.swapaxes(rotations[:-1], -1, -2)
    return float(np.sum(yaw_about_up(inc, up)))


# ----------------------------------------------------------------------------- camera


def camera_motion(
    cam_to_world: np.ndarray,
    frames: Sequence[int],
    world_up: Sequence[float] = (0.0, 0.0, 1.0),
    scale: float | None = None,
) -> dict[str, Any]:
    """How the camera moves over a segment.

    cam_to_world: (T, 4, 4); frames: (F,) increasing scene frame indices; world_up: (3,);
    scale: the scene scale reference in metres (see `scene_scale`), stored as is (NaN if None) so
    that translation thresholds can be relative to it.

    Returns a dict of floats (lists for vectors):
    - translation: [x, y, z] the last camera's position in the FIRST camera's axes
      (x right, y down, z forward): +x moved right, -y moved up, +z moved forward;
    - distance: path length of the camera centre (m); net: |translation| (m);
    - pan: change of the optical axis' heading about world up, degrees, summed over steps
      (wrap-free); positive = pan left (counter-clockwise seen from above);
    - tilt: change of the optical axis' elevation above the horizon, degrees; positive = tilt up;
    - roll: change of the camera's roll about its optical axis, degrees, summed over steps;
      positive = counter-clockwise as seen by the camera (from behind it, looking where it looks:
      its right side rises, so the image content turns clockwise); negative = clockwise;
    - rotation_path: sum of the per-step rotation angles (degrees), to tell "still" from
      "turned and came back";
    - max_abs_pitch: largest |elevation| of the optical axis on the segment; near 90 degrees the
      heading (pan) and roll are ill-defined, and labels.py refuses to label;
    - scale: the scale reference (m) or NaN.

    Pan, tilt and roll are gravity-aligned (heading, elevation and bank of the camera), which is
    how a person describes a camera move; they are exact for rotations about one of these axes.
    """
    c2w = np.asarray(cam_to_world, dtype=np.float64)
    f = _frames(frames, len(c2w))
    up = _unit(world_up)
    poses = c2w[f]
    rot = poses[:, :3, :3]
    centres = poses[:, :3, 3]
    x_ax, y_ax, z_ax = rot[:, :, 0], rot[:, :, 1], rot[:, :, 2]

    translation = rot[0].T @ (centres[-1] - centres[0])

    # Heading of the optical axis in the horizontal plane, measured CCW about up.
    e1 = _horizontal(np.array([1.0, 0.0, 0.0]), up)
    if e1 is None:
        e1 = _horizontal(np.array([0.0, 1.0, 0.0]), up)
    e2 = np.cross(up, e1)
    heading = np.degrees(np.arctan2(z_ax @ e2, z_ax @ e1))
    elevation = np.degrees(np.arcsin(np.clip(z_ax @ up, -1.0, 1.0)))
    # Bank: the camera's right axis rising above the horizon = CCW roll seen by the camera.
    bank = np.degrees(np.arctan2(x_ax @ up, -(y_ax @ up)))

    if len(f) > 1:
        pan = float(np.sum(wrap_degrees(np.diff(heading))))
        roll = float(np.sum(wrap_degrees(np.diff(bank))))
        steps = rot[1:] @ np.swapaxes(rot[:-1], -1, -2)
        rotation_path = float(np.sum(_angle(steps)))
    else:
        pan = roll = rotation_path = 0.0
    return {
        "translation": [float(v) for v in translation],
        "distance": _path(centres),
        "net": float(np.linalg.norm(translation)),
        "pan": pan,
        "tilt": float(elevation[-1] - elevation[0]),
        "roll": roll,
        "rotation_path": rotation_path,
        "max_abs_pitch": float(np.max(np.abs(elevation))),
        "scale": float(scale) if scale is not None and np.isfinite(scale) else float("nan"),
    }


def scene_scale(scene: Any, frames: Sequence[int], max_frames: int = 8, pixel_stride: int = 4) -> float:
    """A size reference for the segment: the typical distance from the camera to what it sees (m).

    Uses, in this order, whatever the scene has: the median of valid depth pixels (over at most
    `max_frames` evenly spaced frames, every `pixel_stride`-th pixel); else the median
    camera-to-object-centre distance over frames where the object is visible; else the median
    distance to visible track points. Returns NaN when none of these exists.
    """
    f = _frames(frames, scene.num_frames)
    pick = f[np.unique(np.linspace(0, len(f) - 1, min(max_frames, len(f))).round().astype(int))]
    if scene.has("depth"):
        d = np.asarray(scene.depth[pick][:, ::pixel_stride, ::pixel_stride], dtype=np.float64)
        d = d[np.isfinite(d) & (d > 0)]
        if d.size:
            return float(np.median(d))
    centres = scene.cam_to_world[f][:, :3, 3]
    if scene.has("object_to_world") and len(scene.objects):
        pos = np.asarray(scene.object_to_world[:, f][..., :3, 3], dtype=np.float64)  # (K, F, 3)
        dist = np.linalg.norm(pos - centres[None], axis=-1)
        ok = np.isfinite(dist)
        if scene.has("object_visible"):
            ok &= np.asarray(scene.object_visible[:, f], dtype=bool)
        if ok.any():
            return float(np.median(dist[ok]))
    if scene.has("tracks_world"):
        pts = np.asarray(scene.tracks_world[:, f], dtype=np.float64)  # (N, F, 3)
        dist = np.linalg.norm(pts - centres[None], axis=-1)
        ok = np.isfinite(dist)
        if scene.has("tracks_visible"):
            ok &= np.asarray(scene.tracks_visible[:, f], dtype=bool)
        if ok.any():
            return float(np.median(dist[ok]))
    return float("nan")


def camera_motion_scene(scene: Any, frames: Sequence[int]) -> dict[str, Any]:
    """`camera_motion` of a scene with its `scene_scale` filled in."""
    return camera_motion(scene.cam_to_world, frames, scene.world_up, scale=scene_scale(scene, frames))


# ----------------------------------------------------------------------------- objects


def object_centers(scene: Any, object_index: int, frames: Sequence[int]) -> np.ndarray:
    """World centre of the object's box in each frame.

    The box is centred on the object origin (scene format v1), so this is object_to_world's
    translation column. object_index: row in the per-object arrays (scene.object_index(id)).
    Returns (F, 3) float64, NaN rows where the pose is unknown.
    """
    f = _frames(frames, scene.num_frames)
    return np.asarray(scene.object_to_world[object_index][f, :3, 3], dtype=np.float64).copy()


def object_size(scene: Any, object_index: int) -> float:
    """Largest side of the object's box (m), NaN if the scene has no extents."""
    if not scene.has("object_extent"):
        return float("nan")
    return float(np.max(scene.object_extent[object_index]))


def path_length(scene: Any, object_index: int, frames: Sequence[int]) -> float:
    """Distance travelled by the object's centre over the known frames of the segment (m)."""
    return _path(object_centers(scene, object_index, frames))


def object_direction(scene: Any, object_index: int, frames: Sequence[int]) -> dict[str, float]:
    """Displacement of the object between the first and last known frames, seen from the first camera.

    Axes (all from the camera of frames[0], "the first viewpoint"):
    - lateral: along the camera's right axis projected onto the horizontal plane; + = to the right;
    - vertical: along world up; + = up;
    - radial: along the horizontal line of sight from the first camera centre to the object's
      first position; + = away from the camera, - = towards it. (Falls back to the camera's
      horizontal forward axis when the object is straight below/above the camera.)
    Also: total = |displacement|, path = path length (m), distance0 = distance from the first
    camera centre to the object's first position (m; labels scale thresholds by it), and
    distance_change = change of that distance first -> last (m).
    All NaN when fewer than two frames have a known pose.
    """
    f = _frames(frames, scene.num_frames)
    up = scene.world_up
    c = object_centers(scene, object_index, f)
    known = np.isfinite(c).all(axis=1)
    nan = float("nan")
    if known.sum() < 2:
        return dict(lateral=nan, vertical=nan, radial=nan, total=nan, path=nan, distance0=nan, distance_change=nan)
    p0, p1 = c[known][0], c[known][-1]
    cam = np.asarray(scene.cam_to_world[f[0]], dtype=np.float64)
    eye = cam[:3, 3]
    right = _horizontal(cam[:3, 0], up)
    if right is None:  # camera x vertical (rolled 90 degrees): use the image's left-right anyway
        right = _unit(cam[:3, 0])
    los = _horizontal(p0 - eye, up)
    if los is None:
        los = _horizontal(cam[:3, 2], up)
    if los is None:  # looking straight down at an object straight below: image up is "away"
        los = _horizontal(-cam[:3, 1], up)
    d = p1 - p0
    return {
        "lateral": float(d @ right),
        "vertical": float(d @ up),
        "radial": float(d @ los),
        "total": float(np.linalg.norm(d)),
        "path": _path(c),
        "distance0": float(np.linalg.norm(p0 - eye)),
        "distance_change": float(np.linalg.norm(p1 - eye) - np.linalg.norm(p0 - eye)),
    }


def object_rotation(scene: Any, object_index: int, frames: Sequence[int]) -> dict[str, float]:
    """How the object turns over the segment.

    - yaw: cumulative signed rotation about world up (degrees), the sum of frame-to-frame
      increments, so it does not wrap; + = counter-clockwise seen from above;
    - tilt: angle (degrees) between world up and world up carried by the object's net rotation
      first -> last: how far the object tipped over (0 for a pure spin about up);
    - angle: angle of the net rotation first -> last (degrees, in [0, 180]).
    NaN when fewer than two frames have a known pose.
    """
    f = _frames(frames, scene.num_frames)
    up = scene.world_up
    _, poses = _object_poses(scene, object_index, f)
    if len(poses) < 2:
        return {"yaw": float("nan"), "tilt": float("nan"), "angle": float("nan")}
    rot = poses[:, :3, :3]
    net = rot[-1] @ rot[0].T
    carried = net @ up
    # atan2 of sine and cosine: arccos loses half the digits near 0 degrees.
    tilt = float(np.degrees(np.arctan2(np.linalg.norm(np.cross(up, carried)), carried @ up)))
    return {"yaw": _cumulative_yaw(rot, up), "tilt": tilt, "angle": float(_angle(net))}


def agent_motion(scene: Any, object_index: int, frames: Sequence[int]) -> dict[str, float]:
    """An agent's motion in its own reference system at the first known frame.

    The agent's heading is its `forward_axis` (object frame) mapped to the world and projected onto
    the horizontal plane; "left" is up x heading. Returns:
    - forward: displacement along the initial heading (m); + = forward, - = backward;
    - left: displacement along the initial left axis (m); + = to its left, - = to its right;
    - yaw: cumulative heading change (degrees, wrap-free); + = turned left (CCW from above);
    - path: path length (m); size: largest side of its box (m, NaN if unknown), the natural unit
      for "did it move" (a car and a person differ by 10x).
    NaN when fewer than two frames have a known pose or the heading is vertical.
    """
    f = _frames(frames, scene.num_frames)
    up = scene.world_up
    _, poses = _object_poses(scene, object_index, f)
    nan = float("nan")
    out = {"forward": nan, "left": nan, "yaw": nan, "path": nan, "size": object_size(scene, object_index)}
    if len(poses) < 2:
        return out
    axis = np.asarray(scene.objects[object_index].forward_axis, dtype=np.float64)
    heading = _horizontal(poses[0, :3, :3] @ _unit(axis), up)
    if heading is None:
        return out
    left = np.cross(up, heading)
    d = poses[-1, :3, 3] - poses[0, :3, 3]
    out.update(
        forward=float(d @ heading),
        left=float(d @ left),
        yaw=_cumulative_yaw(poses[:, :3, :3], up),
        path=_path(poses[:, :3, 3]),
    )
    return out


def distance_series_camera(scene: Any, object_index: int, frames: Sequence[int]) -> np.ndarray:
    """Euclidean distance from each frame's camera centre to the object's centre.

    Returns (F,) float64 metres, NaN where the object pose is unknown.
    """
    f = _frames(frames, scene.num_frames)
    eye = np.asarray(scene.cam_to_world[f][:, :3, 3], dtype=np.float64)
    return np.linalg.norm(object_centers(scene, object_index, f) - eye, axis=1)


def distance_series_objects(scene: Any, i: int, j: int, frames: Sequence[int]) -> np.ndarray:
    """Euclidean distance between the centres of objects i and j (rows). Returns (F,) metres, NaN if unknown."""
    f = _frames(frames, scene.num_frames)
    return np.linalg.norm(object_centers(scene, i, f) - object_centers(scene, j, f), axis=1)


def object_depth(scene: Any, object_index: int, frame: int, kind: str = "euclidean") -> float:
    """Distance of the object's box centre from the camera of `frame` (m).

    kind="euclidean" (default): straight-line distance from the camera centre, which does not
    change when the camera only turns, matching "how far is it from the camera";
    kind="z": depth along the optical axis (what a depth map stores). NaN if the pose is unknown.
    """
    c = object_centers(scene, object_index, [frame])[0]
    cam = np.asarray(scene.cam_to_world[frame], dtype=np.float64)
    if kind == "euclidean":
        return float(np.linalg.norm(c - cam[:3, 3]))
    if kind == "z":
        return float((c - cam[:3, 3]) @ cam[:3, 2])
    raise ValueError(f"object_depth: kind must be 'euclidean' or 'z', got {kind!r}")


def object_object_distance(scene: Any, i: int, j: int, frame: int) -> float:
    """Euclidean distance between the box centres of objects i and j (rows) in `frame` (m)."""
    return float(distance_series_objects(scene, i, j, [frame])[0])


# ----------------------------------------------------------------------------- image space


def _object_mask(scene: Any, object_index: int, frame: int) -> np.ndarray | None:
    if not scene.has("instance_mask"):
        return None
    return np.asarray(scene.instance_mask[frame]) == scene.objects[object_index].id


def object_pixel(scene: Any, object_index: int, frame: int, min_pixels: int = 20) -> tuple[float, float] | None:
    """A pixel that certainly lies on the object in `frame`, for pixel-coordinate references.

    The pixel of the object's mask farthest from the mask's boundary (and from the image border),
    i.e. the peak of the distance transform: unlike the centroid it is inside even for concave or
    split masks. Ties go to the first pixel in raster order, so the choice is deterministic.
    Returns the pixel centre (x, y) in pixels ((j + 0.5, i + 0.5)), or None without
    instance_mask or when fewer than `min_pixels` mask pixels are visible.
    """
    cache = _pixel_cache(scene)
    key = (object_index, frame, min_pixels)
    if cache is not None and key in cache:
        return cache[key]
    mask = _object_mask(scene, object_index, frame)
    if mask is None or np.count_nonzero(mask) < min_pixels:
        px = None
    else:
        i, j = deepest_pixel(mask)
        px = (float(j) + 0.5, float(i) + 0.5)
    if cache is not None:
        cache[key] = px
    return px


# object_pixel's choices per scene object (several tasks ask for the same object and frame); a
# scene is read-only once loaded, and its entry goes when the scene does
_PIXELS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _pixel_cache(scene: Any) -> dict | None:
    """The dict of object_pixel results kept for `scene`, or None for an object that cannot be
    weakly referenced or hashed (then nothing is cached)."""
    try:
        return _PIXELS.setdefault(scene, {})
    except TypeError:
        return None


def object_seen(scene: Any, object_index: int, frame: int, min_pixels: int = 20) -> bool:
    """True when `object_pixel` finds a pixel (the mask has at least `min_pixels` pixels in
    `frame`), without choosing the pixel."""
    mask = _object_mask(scene, object_index, frame)
    return mask is not None and bool(np.count_nonzero(mask) >= min_pixels)


def object_circle(
    scene: Any, object_index: int, frame: int, margin: float = 0.15, min_pixels: int = 20
) -> tuple[float, float, float] | None:
    """A circle enclosing the object's visible mask in `frame`, for visual prompts.

    Centre: the centre of the mask's bounding box; radius: the farthest mask pixel corner from it,
    enlarged by `margin` (fraction) and at least 4 pixels, so the outline does not cover the object.
    Returns (cx, cy, r) in pixels, or None without instance_mask or with < `min_pixels` pixels.
    The circle may extend past the image border for objects at the edge.
    """
    mask = _object_mask(scene, object_index, frame)
    if mask is None or np.count_nonzero(mask) < min_pixels:
        return None
    rows, cols = np.nonzero(mask)
    cx = 0.5 * (cols.min() + cols.max() + 1)
    cy = 0.5 * (rows.min() + rows.max() + 1)
    # Farthest corner of each pixel square from the centre.
    dx = np.maximum(np.abs(cols - cx), np.abs(cols + 1 - cx))
    dy = np.maximum(np.abs(rows - cy), np.abs(rows + 1 - cy))
    r = float(np.sqrt(dx**2 + dy**2).max())
    return (float(cx), float(cy), max(r * (1.0 + margin), r + 4.0))


def visible_fraction(scene: Any, object_index: int, frames: Sequence[int], min_pixels: int = 20) -> float:
    """Fraction of the segment's frames in which the object is visible.

    Uses `object_visible` when the scene has it; else `instance_mask` (at least `min_pixels`
    pixels); else whether the box centre projects inside the image in front of the camera (no
    occlusion test possible then).
    """
    f = _frames(frames, scene.num_frames)
    if scene.has("object_visible"):
        vis = np.asarray(scene.object_visible[object_index][f], dtype=bool)
    elif scene.has("instance_mask"):
        oid = scene.objects[object_index].id
        vis = np.array([np.count_nonzero(scene.instance_mask[t] == oid) >= min_pixels for t in f])
    else:
        uv, z = project_world(object_centers(scene, object_index, f), scene.intrinsics[f], scene.cam_to_world[f])
        vis = in_image(uv, scene.meta.width, scene.meta.height) & (z > 0)
    return float(np.mean(vis))


def is_static(
    scene: Any,
    object_index: int,
    frames: Sequence[int],
    max_translation: float | None = None,
    max_rotation_deg: float | None = None,
    th: Any = None,
) -> bool:
    """True when the object stays put over the segment: every known centre within `max_translation`
    metres of the first, and every known orientation within `max_rotation_deg` of the first.

    Defaults come from the thresholds `th` (`static_m`, `static_deg`).
    An object with fewer than two known poses is not called static (nothing is known).
    """
    if max_translation is None or max_rotation_deg is None:
        if th is None:
            raise ValueError("is_static: pass th= (thresholds with static_m, static_deg) or both limits")
        max_translation = th.static_m if max_translation is None else max_translation
        max_rotation_deg = th.static_deg if max_rotation_deg is None else max_rotation_deg
    f = _frames(frames, scene.num_frames)
    _, poses = _object_poses(scene, object_index, f)
    if len(poses) < 2:
        return False
    shift = np.linalg.norm(poses[:, :3, 3] - poses[0, :3, 3], axis=1).max()
    turn = _angle(poses[:, :3, :3] @ poses[0, :3, :3].T).max()
    return bool(shift <= max_translation and turn <= max_rotation_deg)


def is_moving(scene: Any, object_index: int, frames: Sequence[int], th: Any = None) -> bool:
    """True when the object clearly moves: its path length is at least `moving_m` metres.

    Between `is_static` and `is_moving` lies a gap on purpose: such objects are used for neither.
    """
    if th is None:
        raise ValueError("is_moving: pass th= (thresholds with moving_m)")
    p = path_length(scene, object_index, frames)
    return bool(np.isfinite(p) and p >= th.moving_m)


# ----------------------------------------------------------------------------- point tracks


def tracks_2d(
    scene: Any, frames: Sequence[int], ref_frame: int, kind: str = "visual"
) -> tuple[np.ndarray, np.ndarray]:
    """2D point tracks of the scene's 3D tracks over a segment.

    kind="visual" (P2D): each frame's point through that frame's own camera; visible in frame t
    when the scene marks the point visible at t (`tracks_visible`: in view and unoccluded) and it
    projects inside the image in front of the camera.
    kind="true_motion" (M2D): each frame's point through the fixed camera of `ref_frame`;
    visible in target frame t when the point is unoccluded in the actual video at t
    (`tracks_visible[:, t]`) AND it lands inside the reference image, in front of the reference
    camera. Occlusion as seen from the reference camera at other times cannot be known (there is
    no depth of that view at time t), so visibility is taken from the real video.
    With no `tracks_visible` in the scene, visibility is the depth test against `depth` where
    available, else only the in-image test.

    frames: (F,) scene frame indices; ref_frame: a scene frame index (usually the query frame).
    Returns uv (N, F, 2) float64 pixels (NaN behind the camera) and visible (N, F) bool.
    """
    from qa4d.geometry import depth_test_visibility

    f = _frames(frames, scene.num_frames)
    if not 0 <= ref_frame < scene.num_frames:
        raise ValueError(f"tracks_2d: ref_frame {ref_frame} outside [0, {scene.num_frames})")
    if not scene.has("tracks_world"):
        raise ValueError(f"scene {scene.scene_id}: tracks_2d needs the array 'tracks_world'")
    pts = np.asarray(scene.tracks_world[:, f], dtype=np.float64)
    k, c2w = np.asarray(scene.intrinsics, np.float64), np.asarray(scene.cam_to_world, np.float64)
    w, h = scene.meta.width, scene.meta.height
    if kind not in ("visual", "true_motion"):
        raise ValueError(f"tracks_2d: kind must be 'visual' or 'true_motion', got {kind!r}")
    # each frame's own projection: the visual track, and the depth test without tracks_visible
    own = visual_tracks(pts, k[f], c2w[f]) if kind == "visual" or not scene.has("tracks_visible") else None
    if scene.has("tracks_visible"):
        seen = np.asarray(scene.tracks_visible[:, f], dtype=bool)
    elif scene.has("depth"):
        seen = depth_test_visibility(own[0], own[1], np.asarray(scene.depth[f]))
    else:
        seen = np.ones(pts.shape[:2], dtype=bool)
    seen &= np.isfinite(pts).all(axis=-1)
    if kind == "visual":
        uv, z = own
    else:
        # true_motion_tracks indexes its camera arrays by ref_frame: pass the full arrays.
        uv, z = true_motion_tracks(pts, k, c2w, ref_frame)
    with np.errstate(invalid="ignore"):
        visible = seen & (z > 0) & in_image(uv, w, h)
    return uv, visible
