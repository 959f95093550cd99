"""Kubric MOVi scenes (google-research/kubric, challenges/movi), in either of two forms.

(a) A worker output directory, as `movi_def_worker.py` writes it:
      metadata.json            "metadata" {num_frames, resolution [W, H], frame_rate},
                               "camera" {focal_length, sensor_width, positions (T,3), quaternions (T,4)},
                               "instances" [{positions, quaternions, bboxes_3d (T,8,3), visibility (T,),
                               category, asset_id}]
      rgba_00000.png ...       RGBA frames
      depth_00000.tiff ...     float32 depth, no rescaling
      segmentation_00000.png   palette indices: 0 background, i+1 = instances[i]
(b) A TFDS example (`tfds.as_numpy` of movi_e / movi_f) saved as a flat .npz, nested keys joined
    with "/" (`flatten_example` does it): video (T,H,W,3) u8, segmentations (T,H,W,1),
    depth (T,H,W,1) uint16 with metadata/depth_range (2,), camera/{focal_length, sensor_width,
    positions, quaternions}, instances/{positions (K,T,3), quaternions (K,T,4),
    bboxes_3d (K,T,8,3), visibility (K,T), category (K,), asset_id (K,)}.

Conventions handled: camera poses are camera-to-world in Blender/OpenGL axes (turned into OpenCV
by flipping y and z); quaternions are (w, x, y, z); depth is the distance along the ray from the
camera centre, turned into z-depth; the TFDS depth is uint16 scaled to depth_range; the object
box (bboxes_3d, world corners) is not centred on the object origin, so the object frame is moved
to the box centre. Point tracks are derived exactly for the rigid objects and the static
background (base.rigid_point_tracks). Kubric worlds are z-up; scene units are taken as metres.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from qa4d.scene.format import SceneMeta, SceneObject
from qa4d.sources.converters.base import (
    ConvertError,
    ConvertSettings,
    Converted,
    Converter,
    check_size,
    fail,
    inside,
    load_npz,
    need,
    orthonormalise,
    pinhole,
    pose_matrix,
    quat_wxyz_to_matrix,
    read_image,
    register_converter,
    rigid_point_tracks,
    scene_name,
)

MOVI_FPS = 12.0          # movi_def_worker frame_rate: 24 frames = 2 s
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
TRACKS_PER_OBJECT = 64
BACKGROUND_TRACKS = 256


def flatten_example(example: Mapping[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """A nested TFDS example ({"camera": {"positions": ...}}) as flat "camera/positions" keys,
    ready for np.savez. Lists of strings become unicode arrays."""
    out: dict[str, np.ndarray] = {}
    for k, v in example.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_example(v, key + "/"))
        else:
            a = np.asarray(v)
            out[key] = a.astype(str) if a.dtype.kind in "OS" else a
    return out


def ray_to_z(ray: np.ndarray, k: np.ndarray) -> np.ndarray:
    """z-depth from distance along the ray through each pixel centre.

    ray: (T, H, W); k: (3, 3). Returns (T, H, W) float64: ray / |K^-1 [u + .5, v + .5, 1]|.
    """
    h, w = ray.shape[-2:]
    v, u = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
    x = (u - k[0, 2]) / k[0, 0]
    y = (v - k[1, 2]) / k[1, 1]
    return ray / np.sqrt(x * x + y * y + 1.0)


def centred_boxes(o2w: np.ndarray, corners: np.ndarray, file: Any) -> tuple[np.ndarray, np.ndarray]:
    """Object poses moved to the centre of their boxes, and the box sizes.

    o2w: (K, T, 4, 4) poses of the object origins; corners: (K, T, 8, 3) world box corners.
    Returns poses (K, T, 4, 4) with box-centred origins and extents (K, 3).
    """
    local = np.einsum("ktji,ktcj->ktci", o2w[..., :3, :3], corners - o2w[:, :, None, :3, 3])   # R^T (c - p)
    lo, hi = local.min(axis=2), local.max(axis=2)                                           # (K, T, 3)
    size = hi - lo
    drift = np.abs(size - np.median(size, axis=1, keepdims=True)).max(axis=(1, 2))
    bad = np.flatnonzero(drift > 1e-3 * np.maximum(np.median(size, axis=1).max(axis=1), 1e-6) + 1e-4)
    if len(bad):
        raise fail(file, "instances.bboxes_3d", "a box fixed in the object's frame (rigid object)",
                   f"box size changing over time for instance {int(bad[0])} (by {drift[bad[0]]:.3g})")
    centre = np.median((lo + hi) / 2, axis=1)                                               # (K, 3)
    shift = np.tile(np.eye(4), (len(centre), 1, 1))
    shift[:, :3, 3] = centre
    return o2w @ shift[:, None], np.median(size, axis=1)


def captions(asset_ids: list[str], categories: list[str]) -> list[str]:
    """Unique readable captions: the asset name (or category), numbered when repeated."""
    base = [(a or ("" if c.isdigit() else c)).replace("_", " ").strip().lower() or "object"
            for a, c in zip(asset_ids, categories)]
    out = []
    for i, b in enumerate(base):
        out.append(b if base.count(b) == 1 else f"{b} number {base[:i + 1].count(b)}")
    return out


@register_converter
class Kubric(Converter):
    name = "kubric"
    licence = ("Kubric code Apache-2.0; MOVi datasets CC BY 4.0 (google-research/kubric); GSO assets CC BY 4.0")
    description = "a Kubric MOVi worker directory or a TFDS example saved as a flat .npz"

    def find(self, src: Path) -> list[Path]:
        if src.is_file() or (src / "metadata.json").is_file():
            return [src]
        items = [p for p in src.rglob("metadata.json") if p.is_file()]
        return sorted([p.parent for p in items] + self.npz_files(src))

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        if item.is_dir():
            parts = self._read_worker_dir(item, src, settings)
        else:
            parts = self._read_tfds_npz(item, settings)
        return self._build(item, src, settings, **parts)

    # -- the two source forms -------------------------------------------------------------
    def _read_worker_dir(self, d: Path, src: Path, settings: ConvertSettings) -> dict[str, Any]:
        mpath = inside(src if src.is_dir() else src.parent, d / "metadata.json")
        try:
            md = json.loads(mpath.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise fail(mpath, "(file)", "readable JSON", str(e)) from e
        for key in ("metadata", "camera", "instances"):
            if key not in md:
                raise fail(mpath, key, "present", "missing")
        meta = md["metadata"]
        if not isinstance(meta.get("num_frames"), int) or meta["num_frames"] < 1:
            raise fail(mpath, "metadata.num_frames", "an integer >= 1", meta.get("num_frames"))
        t_len = meta["num_frames"]
        sizes = {"T": t_len}
        cam = {k: need(md["camera"], k, mpath, s, "fiu", sizes) for k, s in
               (("focal_length", ()), ("sensor_width", ()), ("positions", ("T", 3)), ("quaternions", ("T", 4)))}
        inst = self._instances([dict(o) for o in md["instances"]], mpath, sizes, "instances")
        frames_idx = settings.frames(t_len)
        rgb, seg, ray = [], [], []
        for t in frames_idx:
            img = read_image(inside(d, d / f"rgba_{t:05d}.png"), "rgba", "RGB")
            h, w = (rgb[0].shape[:2] if rgb else img.shape[:2])
            check_size(img, d / f"rgba_{t:05d}.png", "rgba", h, w)
            dpath, spath = d / f"depth_{t:05d}.tiff", d / f"segmentation_{t:05d}.png"
            dep = read_image(inside(d, dpath), "depth", mode=None).astype(np.float64)
            dep = dep[..., 0] if dep.ndim == 3 else dep
            s = read_image(inside(d, spath), "segmentation", mode=None)
            if s.ndim != 2:
                raise fail(spath, "segmentation", "a palette or grey PNG of instance indices", f"shape {s.shape}")
            check_size(dep, dpath, "depth", h, w)
            check_size(s, spath, "segmentation", h, w)
            rgb.append(img)
            seg.append(s.astype(np.int32))
            ray.append(dep)
        res = meta.get("resolution")
        if res is not None and list(res) != [w, h]:
            raise fail(mpath, "metadata.resolution", f"[{w}, {h}] (the frames' width, height)", res)
        fps = float(meta.get("frame_rate", MOVI_FPS))
        return dict(rgb=rgb, seg=np.stack(seg), ray=np.stack(ray), cam=cam, inst=inst, frames_idx=frames_idx,
                    fps=fps, fps_from="metadata.frame_rate" if "frame_rate" in meta else "MOVi default (12)",
                    form="worker directory")

    def _read_tfds_npz(self, path: Path, settings: ConvertSettings) -> dict[str, Any]:
        data = load_npz(path)
        sizes: dict[str, int] = {}
        video = need(data, "video", path, ("T", "H", "W", 3), "u", sizes)
        segs = need(data, "segmentations", path, ("T", "H", "W", 1), "iu", sizes)
        depth = need(data, "depth", path, ("T", "H", "W", 1), "u", sizes)
        if depth.dtype != np.uint16:
            raise fail(path, "depth", "uint16 (scaled to metadata/depth_range)", depth.dtype)
        lo, hi = need(data, "metadata/depth_range", path, (2,), "f").astype(np.float64)
        if not (np.isfinite([lo, hi]).all() and hi >= lo >= 0):
            raise fail(path, "metadata/depth_range", "finite [min, max] with 0 <= min <= max", [lo, hi])
        cam = {k: need(data, f"camera/{k}", path, s, "fiu", sizes) for k, s in
               (("focal_length", ()), ("sensor_width", ()), ("positions", ("T", 3)), ("quaternions", ("T", 4)))}
        n_inst = int(data["instances/positions"].shape[0]) if "instances/positions" in data else 0
        per = [{k.split("/", 1)[1]: data[k][i] for k in data if k.startswith("instances/")} for i in range(n_inst)]
        inst = self._instances(per, path, sizes, "instances/")
        frames_idx = settings.frames(sizes["T"])
        ray = depth[frames_idx, ..., 0].astype(np.float64) / 65535.0 * (hi - lo) + lo
        return dict(rgb=list(video[frames_idx]), seg=segs[frames_idx, ..., 0].astype(np.int32), ray=ray, cam=cam,
                    inst=inst, frames_idx=frames_idx, fps=MOVI_FPS, fps_from="MOVi default (12; TFDS stores none)",
                    form="TFDS example (.npz)")

    @staticmethod
    def _instances(objs: list[dict[str, Any]], file: Any, sizes: dict[str, int], where: str) -> dict[str, Any]:
        """Per-instance arrays stacked (K, T, ...), with category and asset names. `where` names
        the instances in errors: "instances" (JSON list) or "instances/" (flat npz keys)."""
        shapes = {"positions": ("T", 3), "quaternions": ("T", 4), "bboxes_3d": ("T", 8, 3), "visibility": ("T",)}
        out: dict[str, Any] = {key: [] for key in shapes}
        out["category"], out["asset_id"] = [], []
        for i, o in enumerate(objs):
            for key, shape in shapes.items():
                label = f"{where}{key}[{i}]" if where.endswith("/") else f"{where}[{i}].{key}"
                out[key].append(need(o, key, file, shape, "fiu", sizes, label=label))
            for key in ("category", "asset_id"):
                v = o.get(key, "")
                out[key].append(str(v.item() if isinstance(v, np.ndarray) else v))
        t = sizes.get("T", 0)
        for key, shape in shapes.items():
            out[key] = np.stack(out[key]).astype(np.float64) if out[key] else np.zeros((0, t) + shape[1:])
        return out

    # -- the scene ------------------------------------------------------------------------
    def _build(self, item: Path, src: Path, settings: ConvertSettings, rgb, seg, ray, cam, inst, frames_idx, fps,
               fps_from, form) -> Converted:
        h, w = rgb[0].shape[:2]
        focal, sensor = float(cam["focal_length"]), float(cam["sensor_width"])
        if not (focal > 0 and sensor > 0):
            raise fail(item, "camera.focal_length/sensor_width", "> 0", [focal, sensor])
        f_px = focal / sensor * w                     # square pixels: the same along y
        k = pinhole(f_px, f_px, w / 2, h / 2)
        c2w_gl = pose_matrix(quat_wxyz_to_matrix(cam["quaternions"][frames_idx]), cam["positions"][frames_idx])
        c2w = orthonormalise(c2w_gl @ OPENGL_TO_OPENCV)
        depth = ray_to_z(ray, k)
        n_obj = len(inst["category"])
        ids = np.arange(1, n_obj + 1)
        bad = np.setdiff1d(np.unique(seg), np.concatenate([[0], ids]))
        if len(bad):
            raise fail(item, "segmentation", f"values 0..{n_obj} (0 background, i+1 instance i)", f"values {bad[:5].tolist()}")
        o2w = orthonormalise(pose_matrix(quat_wxyz_to_matrix(inst["quaternions"][:, frames_idx]),
                                         inst["positions"][:, frames_idx]))
        o2w, extent = centred_boxes(o2w, inst["bboxes_3d"][:, frames_idx], item)
        t_len = len(frames_idx)
        tracks, vis, owner = rigid_point_tracks(depth, seg, np.tile(k, (t_len, 1, 1)), c2w, o2w, ids,
                                                TRACKS_PER_OBJECT, BACKGROUND_TRACKS)
        # TFDS stores class indices (ClassLabel) without names: those become "object"
        objects = [SceneObject(id=int(i), category=c.lower() if c and not c.isdigit() else "object", caption=cap)
                   for i, c, cap in zip(ids, inst["category"], captions(inst["asset_id"], inst["category"]))]
        arrays = {
            "intrinsics": np.tile(k, (t_len, 1, 1)), "cam_to_world": c2w, "depth": depth.astype(np.float32),
            "instance_mask": seg.astype(np.int32), "object_to_world": o2w,
            "object_visible": inst["visibility"][:, frames_idx] > 0, "object_extent": extent,
            "tracks_world": tracks, "tracks_visible": vis, "tracks_object": owner,
        }
        stem = item.name if item.is_dir() else item.stem
        meta = SceneMeta(
            scene_id=scene_name("kubric", stem), source=self.name, fps=fps / settings.stride, width=w, height=h,
            frames=[], objects=objects, world_up=(0.0, 0.0, 1.0),
            extra=self.extra(item, src, settings, frames_idx, fps, fps_from, form=form,
                             units="Kubric scene units taken as metres",
                             tracks="derived: rigid objects from depth, masks and poses; static background"),
        )
        if not np.isfinite(depth).all():
            raise ConvertError(f"{item}: key 'depth': expected finite values, got NaN or inf")
        return Converted(meta, arrays, [np.asarray(f, np.uint8) for f in rgb])
