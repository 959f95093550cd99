"""Monocular 4D reconstructions of your own videos (MegaSaM-style .npz), optionally with masks.

Expected keys of the .npz (the layout MegaSaM's `*_sgd_cvd_hr.npz` has; other tools can write it
with one np.savez call):
  images      (T, H, W, 3) uint8     the video frames
  depths      (T, H, W)    float     z-depth along the optical axis (0 = unknown), in the units of cam_c2w
  intrinsic   (3, 3)                 one pinhole for the video  -- or --
  intrinsics  (T, 3, 3)              one per frame
  cam_c2w     (T, 4, 4)              camera-to-world, OpenCV axes (x right, y down, z forward)
Optional keys:
  fps                  ()            frame rate of the video (else --fps is required)
  instance_masks       (T, H, W) int 0 background, k > 0 object k (e.g. SAM 2 masks of moving things)
  tracks_xyz           (T, N, 3)     3D point tracks in the world frame (e.g. from a 3D tracker)
  tracks_visible       (T, N) bool   their visibility
Instead of `instance_masks`, a directory `<stem>_masks/` beside the .npz (inside SRC, when SRC
is a directory) may hold one PNG per frame (`00000.png`, ...; grey or palette, value = object id).

Scene: frames, intrinsics, cam_to_world, depth; with masks, `instance_mask`, one object per id
(category "object", no pose: `object_to_world` is not written) and static background tracks from
the unmasked pixels of frame 0 (the masks must cover everything that moves); given tracks keep an
unknown owner (-1). The scale is the reconstruction's: metric only if the method's depth is.
world_up is estimated as the mean camera up (-y) direction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa4d.geometry import rigid_error
from qa4d.scene.format import TRACK_OWNER_UNKNOWN, SceneMeta, SceneObject
from qa4d.sources.converters.base import (
    ConvertError,
    ConvertSettings,
    Converted,
    Converter,
    check_size,
    estimated_up,
    fail,
    fill_invalid,
    inside,
    load_npz,
    need,
    orthonormalise,
    read_image,
    register_converter,
    rigid_point_tracks,
    scene_name,
)

BACKGROUND_TRACKS = 256


@register_converter
class Recon(Converter):
    name = "recon"
    licence = "your own video and reconstruction: record its licence yourself"
    description = "a monocular 4D reconstruction .npz (images, depths, intrinsic(s), cam_c2w), or a directory of them"

    def find(self, src: Path) -> list[Path]:
        return self.npz_files(src)

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        data = load_npz(item)
        sizes: dict[str, int] = {}
        images = need(data, "images", item, ("T", "H", "W", 3), "u", sizes)
        depths = need(data, "depths", item, ("T", "H", "W"), "fiu", sizes)
        c2w_all = need(data, "cam_c2w", item, ("T", 4, 4), "f", sizes).astype(np.float64)
        if "intrinsics" in data:
            k_all = need(data, "intrinsics", item, ("T", 3, 3), "f", sizes).astype(np.float64)
        else:
            k_all = np.tile(need(data, "intrinsic", item, (3, 3), "f").astype(np.float64), (sizes["T"], 1, 1))
        self._check_numbers(item, depths, c2w_all, k_all)
        if settings.fps is not None:
            fps, fps_from = settings.fps, "--fps"
        elif "fps" in data:
            fps, fps_from = float(need(data, "fps", item, (), "fiu")), "key 'fps'"
            if not fps > 0:
                raise fail(item, "fps", "> 0", fps)
        else:
            raise ConvertError(f"{item}: key 'fps': expected present or --fps given, got missing")
        idx = settings.frames(sizes["T"])
        t_len, h, w = len(idx), sizes["H"], sizes["W"]
        c2w, k, depth = orthonormalise(c2w_all[idx]), k_all[idx], depths[idx].astype(np.float32)
        arrays: dict[str, np.ndarray] = {"intrinsics": k, "cam_to_world": c2w, "depth": depth.astype(np.float32)}
        objects: list[SceneObject] = []
        masks = self._masks(item, src, data, sizes, idx)
        if masks is not None:
            ids = sorted(int(v) for v in np.unique(masks) if v > 0)
            objects = [SceneObject(id=i, category="object", caption=f"object {i}") for i in ids]
            arrays["instance_mask"] = masks.astype(np.int32)
            bg = rigid_point_tracks(depth, masks, k, c2w, np.zeros((0, t_len, 4, 4)), np.zeros(0, np.int64),
                                    0, BACKGROUND_TRACKS)
            self._add_tracks(arrays, *bg)
        if "tracks_xyz" in data:
            xyz = need(data, "tracks_xyz", item, ("T", "N", 3), "f", sizes).astype(np.float64)[idx].transpose(1, 0, 2)
            vis = (need(data, "tracks_visible", item, ("T", "N"), "biu", sizes) > 0)[idx].T
            finite = np.isfinite(xyz).all(-1)
            keep = finite.any(1)
            self._add_tracks(arrays, fill_invalid(xyz[keep], finite[keep]).astype(np.float32), vis[keep] & finite[keep],
                             np.full(int(keep.sum()), TRACK_OWNER_UNKNOWN, np.int32))
        meta = SceneMeta(
            scene_id=scene_name("recon", item.stem), source=self.name, fps=fps / settings.stride, width=w, height=h,
            frames=[], objects=objects, world_up=tuple(estimated_up(c2w)),  # type: ignore[arg-type]
            extra=self.extra(item, src, settings, idx, fps, fps_from, world_up_from="estimated: mean camera up (-y)",
                             scale="as reconstructed (metric only if the method's depth is)",
                             masks="given" if masks is not None else "none",
                             unknown=["object_to_world", "object_extent"] + ([] if masks is not None else ["instance_mask"])),
        )
        return Converted(meta, arrays, [np.asarray(images[t], np.uint8) for t in idx])

    @staticmethod
    def _check_numbers(item: Path, depths: np.ndarray, c2w: np.ndarray, k: np.ndarray) -> None:
        if not np.isfinite(depths).all() or (depths < 0).any():
            raise fail(item, "depths", "finite values >= 0 (0 = unknown)", "NaN, inf or negative values")
        err = rigid_error(c2w)
        if not np.isfinite(c2w).all() or np.nanmax(err) > 1e-3:
            raise fail(item, "cam_c2w", "rigid camera-to-world matrices", f"rigid error {np.nanmax(err):.3g}")
        if not np.isfinite(k).all() or (k[:, 0, 0] <= 0).any() or (k[:, 1, 1] <= 0).any():
            raise fail(item, "intrinsic(s)", "finite with fx, fy > 0", "other values")

    @staticmethod
    def _masks(item: Path, src: Path, data, sizes, idx) -> np.ndarray | None:
        if "instance_masks" in data:
            m = need(data, "instance_masks", item, ("T", "H", "W"), "iu", sizes)[idx].astype(np.int32)
        else:
            d = item.with_name(item.stem + "_masks")
            if not src.is_dir() or not d.is_dir():  # SRC a single file: nothing beside it is read
                return None
            root = src
            frames = []
            for t in idx:
                p = inside(root, d / f"{t:05d}.png")
                a = read_image(p, "mask", mode=None)
                if a.ndim != 2:
                    raise fail(p, "mask", "a single-channel PNG of object ids", f"shape {a.shape}")
                check_size(a, p, "mask", sizes["H"], sizes["W"])
                frames.append(a.astype(np.int32))
            m = np.stack(frames)
        if (m < 0).any():
            raise fail(item, "instance_masks", "ids >= 0", f"min {m.min()}")
        return m

    @staticmethod
    def _add_tracks(arrays: dict[str, np.ndarray], xyz: np.ndarray, vis: np.ndarray, owner: np.ndarray) -> None:
        if "tracks_world" in arrays:
            xyz = np.concatenate([arrays["tracks_world"], xyz])
            vis = np.concatenate([arrays["tracks_visible"], vis])
            owner = np.concatenate([arrays["tracks_object"], owner])
        arrays["tracks_world"], arrays["tracks_visible"], arrays["tracks_object"] = xyz, vis, owner
