"""Virtual KITTI 2 (vkitti_2.0.3): one scene/variation directory, e.g. `Scene01/clone/`.

Files read (Camera_0 only; rows of the text files are frame-major, then camera):
  frames/rgb/Camera_0/rgb_%05d.jpg
  frames/depth/Camera_0/depth_%05d.png                  uint16, centimetres, z-depth (65535 = far/sky)
  frames/instanceSegmentation/Camera_0/instancegt_%05d.png   indexed: trackID + 1, 0 background
  extrinsic.txt  frame cameraID + a row-major 4x4 world-to-camera matrix (OpenCV axes)
  intrinsic.txt  frame cameraID K[0,0] K[1,1] K[0,2] K[1,2]
  pose.txt       frame cameraID trackID alpha width height length world_space_X/Y/Z
                 rotation_world_space_y/x/z camera_space_X/Y/Z rotation_camera_space_y/x/z
  bbox.txt       frame cameraID trackID left right top bottom number_pixels ...
  info.txt       trackID label model color
(the text files may also sit in a `textgt/` sub-directory).

Objects follow the KITTI box convention: the location is the bottom centre of the box, the
object frame has x along the length (heading), y down (height), z along the width, and
R = Ry(rot_y) Rx(rot_x) Rz(rot_z) in the world frame. The scene's object frame is moved to the
box centre (location - h/2 along the object's up). Each pose row's camera_space location is
checked against extrinsic x world_space (the discrepancy is recorded; over 0.5 m is an error).
Vehicles are agents heading along +x. Depth 65535 (saturated) becomes 0 (unknown). Point tracks
are derived exactly for the rigid vehicles and the static background.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa4d.geometry import invert_rigid, rigid_error, transform_points
from qa4d.scene.format import SceneMeta, SceneObject
from qa4d.sources.converters.base import (
    ConvertError,
    ConvertSettings,
    Converted,
    Converter,
    check_size,
    estimated_up,
    fail,
    inside,
    orthonormalise,
    pinhole,
    read_image,
    read_uint16_png,
    register_converter,
    rigid_point_tracks,
    scene_name,
)

FPS = 10.0
CAMERA = 0
TRACKS_PER_OBJECT = 64
BACKGROUND_TRACKS = 256
MAX_POSE_MISMATCH_M = 0.5

BBOX_COLUMNS = ("frame", "cameraID", "trackID", "left", "right", "top", "bottom", "number_pixels")
POSE_COLUMNS = ("frame", "cameraID", "trackID", "alpha", "width", "height", "length", "world_space_X",
                "world_space_Y", "world_space_Z", "rotation_world_space_y", "rotation_world_space_x",
                "rotation_world_space_z", "camera_space_X", "camera_space_Y", "camera_space_Z")


def read_table(path: Path, columns: tuple[str, ...], min_cols: int) -> list[list[str]]:
    """Rows (split on whitespace) of a VKITTI text file whose header starts with `columns`."""
    if not path.is_file():
        raise fail(path, "(file)", "an existing file", "missing")
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise fail(path, "(header)", " ".join(columns), "an empty file")
    head = tuple(lines[0][: len(columns)])
    if head != columns:
        raise fail(path, "(header)", " ".join(columns) + " ...", " ".join(lines[0][: len(columns)]))
    for i, row in enumerate(lines[1:], 2):
        if len(row) < min_cols:
            raise fail(path, f"line {i}", f"at least {min_cols} columns", len(row))
    return lines[1:]


def rot_x(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rot_y(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_z(a: np.ndarray) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def kitti_box_pose(location, height: float, ry: float, rx: float = 0.0, rz: float = 0.0) -> np.ndarray:
    """Pose (4,4) of a KITTI box's centre: rotation Ry Rx Rz, origin moved from the bottom centre
    `location` (3,) up by half the height (up is -y in the object frame)."""
    r = rot_y(ry) @ rot_x(rx) @ rot_z(rz)
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = np.asarray(location, float) + r @ np.array([0.0, -height / 2, 0.0])
    return m


@register_converter
class VKitti2(Converter):
    name = "vkitti2"
    licence = "Virtual KITTI 2: CC BY-NC-SA 3.0 (Naver Labs Europe); non-commercial use only"
    description = "a Virtual KITTI 2 scene/variation directory (Scene01/clone), or a directory above such"

    def find(self, src: Path) -> list[Path]:
        def is_item(d: Path) -> bool:
            return (d / "frames").is_dir() and ((d / "extrinsic.txt").is_file() or (d / "textgt" / "extrinsic.txt").is_file())

        if src.is_dir() and is_item(src):
            return [src]
        return sorted({p.parent.parent if p.parent.name == "textgt" else p.parent
                       for p in src.rglob("extrinsic.txt")} if src.is_dir() else set(), key=str)

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        txt = item / "textgt" if (item / "textgt" / "extrinsic.txt").is_file() else item
        ext_rows = self._camera_rows(read_table(inside(item, txt / "extrinsic.txt"), ("frame", "cameraID"), 18))
        t_len = len(ext_rows)
        w2c = np.array([[float(v) for v in r[2:18]] for r in ext_rows]).reshape(t_len, 4, 4)
        self._frames_complete(txt / "extrinsic.txt", [int(r[0]) for r in ext_rows])
        err = rigid_error(w2c)
        if np.nanmax(err) > 1e-3 or not np.isfinite(w2c).all():
            raise fail(txt / "extrinsic.txt", "r1,1..t3", "rigid world-to-camera matrices", f"rigid error {np.nanmax(err):.3g}")
        k_rows = self._camera_rows(read_table(inside(item, txt / "intrinsic.txt"), ("frame", "cameraID"), 6))
        if len(k_rows) != t_len:
            raise fail(txt / "intrinsic.txt", "frame", f"{t_len} rows for camera {CAMERA} like extrinsic.txt", len(k_rows))
        k_all = pinhole(*np.array([[float(v) for v in r[2:6]] for r in k_rows]).T)
        idx = settings.frames(t_len)
        c2w = orthonormalise(invert_rigid(w2c[idx]))
        rgb, depth, mask = self._images(item, idx)
        info = read_table(inside(item, txt / "info.txt"), ("trackID", "label"), 4)
        track_ids = [int(r[0]) for r in info]
        objects = self._objects(info)
        o2w, extent, mismatch = self._poses(txt / "pose.txt", item, track_ids, idx, w2c)
        visible = self._visible(txt / "bbox.txt", item, track_ids, idx) & np.isfinite(o2w).all(axis=(-1, -2))
        ids = np.array(track_ids) + 1
        present = np.setdiff1d(np.unique(mask), np.concatenate([[0], ids]))
        if len(present):
            raise fail(item / "frames/instanceSegmentation", "instancegt", "trackID + 1 of a track in info.txt",
                       f"values {present[:5].tolist()}")
        tracks = rigid_point_tracks(depth, mask, k_all[idx], c2w, o2w, ids, TRACKS_PER_OBJECT, BACKGROUND_TRACKS)
        arrays = {"intrinsics": k_all[idx], "cam_to_world": c2w, "depth": depth.astype(np.float32),
                  "instance_mask": mask.astype(np.int32), "object_to_world": o2w, "object_visible": visible,
                  "object_extent": extent, "tracks_world": tracks[0], "tracks_visible": tracks[1],
                  "tracks_object": tracks[2]}
        fps = settings.fps or FPS
        h, w = depth.shape[1:]
        meta = SceneMeta(
            scene_id=scene_name("vkitti2", item.parent.name, item.name), source=self.name, fps=fps / settings.stride,
            width=w, height=h, frames=[], objects=objects, world_up=tuple(estimated_up(c2w)),  # type: ignore[arg-type]
            extra=self.extra(item, src, settings, idx, fps, "--fps" if settings.fps else "VKITTI2 default (10)",
                             camera=f"Camera_{CAMERA}", world_up_from="estimated: mean camera up (-y)",
                             pose_camera_vs_world_max_m=round(float(mismatch), 6),
                             box_convention="KITTI: bottom-centre location, Ry Rx Rz, x = length",
                             tracks="derived: rigid vehicles from depth, masks and poses; static background"),
        )
        return Converted(meta, arrays, rgb)

    @staticmethod
    def _camera_rows(rows: list[list[str]]) -> list[list[str]]:
        return [r for r in rows if r[1] == str(CAMERA)]

    @staticmethod
    def _frames_complete(path: Path, frames: list[int]) -> None:
        if frames != list(range(len(frames))):
            raise fail(path, "frame", f"frames 0..{len(frames) - 1} in order for camera {CAMERA}", frames[:10])

    def _images(self, item: Path, idx: np.ndarray):
        rgb, depth, mask = [], [], []
        for t in idx:
            p_rgb = inside(item, item / f"frames/rgb/Camera_{CAMERA}/rgb_{t:05d}.jpg")
            p_dep = inside(item, item / f"frames/depth/Camera_{CAMERA}/depth_{t:05d}.png")
            p_ins = inside(item, item / f"frames/instanceSegmentation/Camera_{CAMERA}/instancegt_{t:05d}.png")
            img = read_image(p_rgb, "rgb")
            h, w = (rgb[0].shape[:2] if rgb else img.shape[:2])
            check_size(img, p_rgb, "rgb", h, w)
            d = read_uint16_png(p_dep, "depth")
            check_size(d, p_dep, "depth", h, w)
            m = read_image(p_ins, "instancegt", mode=None)
            if m.ndim != 2:
                raise fail(p_ins, "instancegt", "an indexed (palette) or grey PNG of trackID + 1", f"shape {m.shape}")
            check_size(m, p_ins, "instancegt", h, w)
            rgb.append(img)
            depth.append(np.where(d == 65535, 0.0, d / 100.0).astype(np.float32))  # float32: long clips
            mask.append(m.astype(np.int32))
        return rgb, np.stack(depth), np.stack(mask)

    @staticmethod
    def _objects(info: list[list[str]]) -> list[SceneObject]:
        names = [f"{r[3]} {r[1]}".replace("_", " ").lower() for r in info]
        out = []
        for i, r in enumerate(info):
            cap = names[i] if names.count(names[i]) == 1 else f"{names[i]} number {names[: i + 1].count(names[i])}"
            out.append(SceneObject(id=int(r[0]) + 1, category=r[1].lower(), caption=cap,
                                   is_agent=r[1].lower() in ("car", "van", "truck"), forward_axis=(1.0, 0.0, 0.0)))
        return out

    def _poses(self, path: Path, item: Path, track_ids: list[int], idx: np.ndarray, w2c: np.ndarray):
        rows = self._camera_rows(read_table(inside(item, path), POSE_COLUMNS, len(POSE_COLUMNS)))
        pos_of = {tid: k for k, tid in enumerate(track_ids)}
        where = {int(t): i for i, t in enumerate(idx)}
        o2w = np.full((len(track_ids), len(idx), 4, 4), np.nan)
        sizes: dict[int, list[tuple[float, float, float]]] = {}
        mismatch = 0.0
        for r in rows:
            frame, tid = int(r[0]), int(r[2])
            if tid not in pos_of:
                raise fail(path, "trackID", "a track listed in info.txt", tid)
            v = [float(x) for x in r[3:16]]
            width, height, length = v[1], v[2], v[3]
            loc, (ry, rx, rz), cam_loc = np.array(v[4:7]), v[7:10], np.array([float(x) for x in r[13:16]])
            if not 0 <= frame < len(w2c):
                raise fail(path, "frame", f"a frame in 0..{len(w2c) - 1}", frame)
            mismatch = max(mismatch, float(np.linalg.norm(transform_points(w2c[frame], loc) - cam_loc)))
            sizes.setdefault(tid, []).append((length, height, width))
            if frame in where:
                o2w[pos_of[tid], where[frame]] = kitti_box_pose(loc, height, ry, rx, rz)
        if mismatch > MAX_POSE_MISMATCH_M:
            raise ConvertError(f"{path}: key 'camera_space_X/Y/Z': expected extrinsic x world_space_X/Y/Z "
                               f"(within {MAX_POSE_MISMATCH_M} m), got a difference of {mismatch:.3f} m")
        extent = np.full((len(track_ids), 3), np.nan)
        for tid, s in sizes.items():
            extent[pos_of[tid]] = np.median(np.array(s), axis=0)
        missing = [tid for tid in track_ids if tid not in sizes]
        if missing:
            raise fail(path, "trackID", "a pose row for every track of info.txt", f"none for {missing[:5]}")
        return o2w, extent, mismatch

    def _visible(self, path: Path, item: Path, track_ids: list[int], idx: np.ndarray) -> np.ndarray:
        rows = self._camera_rows(read_table(inside(item, path), BBOX_COLUMNS, len(BBOX_COLUMNS)))
        pos_of = {tid: k for k, tid in enumerate(track_ids)}
        where = {int(t): i for i, t in enumerate(idx)}
        vis = np.zeros((len(track_ids), len(idx)), bool)
        for r in rows:
            frame, tid, pixels = int(r[0]), int(r[2]), float(r[7])
            if tid in pos_of and frame in where and pixels > 0:
                vis[pos_of[tid], where[frame]] = True
        return vis
