"""TAPVid-3D clips (google-deepmind/tapnet, tapvid3d): one .npz per clip.

Keys read (the code and files spell it `tracks_XYZ`, the README `tracks_xyz`):
  images_jpeg_bytes (T,) bytes   JPEG frames
  tracks_XYZ        (T, N, 3)    metres, in the camera frame of frame t (OpenCV axes)
  visibility        (T, N) bool  in view and not occluded
  fx_fy_cx_cy       (4,)         one pinhole for the clip
  extrinsics_w2c    (T, 4, 4)    world-to-camera; ADT and DriveTrack only (PStudio: static camera,
                                 the world is then the camera frame)

The median distance between the query pixels (queries_xyt) and their projected track points is
recorded in extra.convert as a check of the intrinsics and axes.

Scene: frames, intrinsics, cam_to_world = inv(extrinsics_w2c), tracks_world = c2w[t] tracks_XYZ[t].
No depth, masks or objects; every track's owner is unknown (`tracks_object` = -1). The frame rate
is not stored: it comes from the subset directory (adt/, pstudio/: 30 Hz; drivetrack/: 10 Hz,
Waymo) or --fps. world_up is estimated as the mean camera up (-y) direction.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from qa4d.geometry import invert_rigid, rigid_error, transform_points
from qa4d.scene.format import TRACK_OWNER_UNKNOWN, SceneMeta
from qa4d.sources.converters.base import (
    ConvertError,
    ConvertSettings,
    Converted,
    Converter,
    estimated_up,
    fail,
    fill_invalid,
    load_npz,
    need,
    orthonormalise,
    pinhole,
    register_converter,
    scene_name,
)

SUBSET_FPS = {"adt": 30.0, "pstudio": 30.0, "drivetrack": 10.0}


def decode_jpeg(data: bytes, file: Path, t: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise fail(file, f"images_jpeg_bytes[{t}]", "JPEG bytes", f"undecodable ({e})") from e


def query_reprojection(data, item: Path, xyz: np.ndarray, f: np.ndarray, sizes: dict[str, int]) -> float | None:
    """Median distance (px) between each query pixel (queries_xyt) and its track point at the
    query frame projected with fx_fy_cx_cy: evidence that the intrinsics and axes are read right
    (recorded, not enforced: the converter does not rely on the queries). None without queries."""
    if "queries_xyt" not in data:
        return None
    q = need(data, "queries_xyt", item, ("N", 3), "fiu", sizes).astype(np.float64)
    t = np.clip(np.round(q[:, 2]).astype(np.int64), 0, sizes["T"] - 1)
    p = xyz[t, np.arange(len(q))]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = np.stack([f[0] * p[:, 0] / p[:, 2] + f[2], f[1] * p[:, 1] / p[:, 2] + f[3]], -1)
    err = np.linalg.norm(uv - q[:, :2], axis=-1)
    err = err[np.isfinite(err)]
    return round(float(np.median(err)), 4) if err.size else None


@register_converter
class TapVid3D(Converter):
    name = "tapvid3d"
    licence = ("TAPVid-3D annotations: see google-deepmind/tapnet (tapvid3d/README.md); the videos keep "
               "their own licences (ADT: Project Aria terms, DriveTrack: Waymo Open Dataset terms, PStudio: "
               "CMU Panoptic Studio terms)")
    description = "one TAPVid-3D clip .npz, or a directory of them"

    def find(self, src: Path) -> list[Path]:
        return self.npz_files(src)

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        data = load_npz(item)
        sizes: dict[str, int] = {}
        jpegs = need(data, "images_jpeg_bytes", item, ("T",), "SO", sizes)
        xyz = need(data, "tracks_XYZ", item, ("T", "N", 3), "f", sizes).astype(np.float64)
        vis = need(data, "visibility", item, ("T", "N"), "biu", sizes) > 0
        f = need(data, "fx_fy_cx_cy", item, (4,), "fiu").astype(np.float64)
        if not (np.isfinite(f).all() and f[0] > 0 and f[1] > 0):
            raise fail(item, "fx_fy_cx_cy", "finite values with fx, fy > 0", f.tolist())
        subset = item.parent.name.lower()
        if "extrinsics_w2c" in data:
            w2c = need(data, "extrinsics_w2c", item, ("T", 4, 4), "f", sizes).astype(np.float64)
            err = rigid_error(w2c)
            if not np.isfinite(w2c).all() or np.nanmax(err) > 1e-3:
                raise fail(item, "extrinsics_w2c", "rigid world-to-camera matrices", f"rigid error {np.nanmax(err):.3g}")
            c2w_all = orthonormalise(invert_rigid(w2c))
            world = "the dataset's world frame"
        else:
            c2w_all = np.tile(np.eye(4), (sizes["T"], 1, 1))
            world = "the (static) camera frame: no extrinsics_w2c in the file"
        if settings.fps is not None:
            src_fps, fps_from = settings.fps, "--fps"
        elif subset in SUBSET_FPS:
            src_fps, fps_from = SUBSET_FPS[subset], f"subset directory {subset!r}"
        else:
            raise ConvertError(f"{item}: key 'fps': expected --fps or a parent directory adt/, pstudio/ or "
                               f"drivetrack/ (TAPVid-3D files store no frame rate), got directory {item.parent.name!r}")
        query_px = query_reprojection(data, item, xyz, f, sizes)
        frames_idx = settings.frames(sizes["T"])
        frames = [decode_jpeg(jpegs[t], item, int(t)) for t in frames_idx]
        h, w = frames[0].shape[:2]
        for t, img in zip(frames_idx, frames):
            if img.shape[:2] != (h, w):
                raise fail(item, f"images_jpeg_bytes[{t}]", f"{w}x{h} like frame 0", f"{img.shape[1]}x{img.shape[0]}")
        c2w = c2w_all[frames_idx]
        pts = transform_points(c2w[:, None], xyz[frames_idx]).transpose(1, 0, 2)      # (N, T', 3)
        finite = np.isfinite(pts).all(axis=-1)
        keep = finite.any(axis=1)
        pts, finite = pts[keep], finite[keep]
        visible = vis[frames_idx].T[keep] & finite
        pts = fill_invalid(pts, finite)
        n = len(pts)
        arrays = {
            "intrinsics": np.tile(pinhole(*f), (len(frames_idx), 1, 1)),
            "cam_to_world": c2w,
            "tracks_world": pts.astype(np.float32),
            "tracks_visible": visible,
            "tracks_object": np.full(n, TRACK_OWNER_UNKNOWN, np.int32),
        }
        meta = SceneMeta(
            scene_id=scene_name("tapvid3d", subset if subset in SUBSET_FPS else "", item.stem),
            source=self.name, fps=src_fps / settings.stride, width=w, height=h, frames=[],
            world_up=tuple(estimated_up(c2w)),  # type: ignore[arg-type]
            extra=self.extra(item, src, settings, frames_idx, src_fps, fps_from, subset=subset, world=world,
                             world_up_from="estimated: mean camera up (-y) direction",
                             tracks_dropped_never_valid=int((~keep).sum()), query_reprojection_px_median=query_px,
                             unknown=["depth", "instance_mask", "objects", "tracks_object"]),
        )
        return Converted(meta, arrays, frames)
