"""PointOdyssey sequences (v1.1 / v1.2; loaders in aharley/pips2, conventions in
y-zheng18/point_odyssey utils/reprojection.py): one sequence directory.

Files read:
  rgbs/rgb_%05d.jpg
  depths/depth_%05d.png     uint16, z-depth in metres = v / 65535 * 1000 (0 = unknown)
  anno.npz                  trajs_3d (T,N,3) world metres, valids (T,N), visibs (T,N),
                            intrinsics (T,3,3), extrinsics (T,4,4) world-to-camera (OpenCV)
The v1.0 layout (`annot.npz`, visibs in {0, 1, 2}, flipped depth and other camera axes) is
refused with an error, and so are extrinsics that do not project trajs_3d onto trajs_2d (median
over visible points above 5 px; the measured median is recorded). Masks are not read: their values have no object table, so there are no
objects and every track's owner is unknown (-1). Track positions at invalid frames (not valid or
not finite) are held from the nearest earlier valid frame and marked not visible; tracks never
valid are dropped. fps is 30 (the renderer's); world_up is estimated from the cameras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa4d.geometry import invert_rigid, rigid_error
from qa4d.scene.format import TRACK_OWNER_UNKNOWN, SceneMeta
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
    read_uint16_png,
    register_converter,
    scene_name,
)

FPS = 30.0
DEPTH_SCALE_M = 1000.0 / 65535.0
MAX_REPROJECTION_PX = 5.0


@register_converter
class PointOdyssey(Converter):
    name = "pointodyssey"
    licence = "PointOdyssey: see y-zheng18/point_odyssey (dataset terms; assets keep their own licences)"
    description = "a PointOdyssey sequence directory (anno.npz, rgbs/, depths/), or a split directory above such"

    def find(self, src: Path) -> list[Path]:
        if not src.is_dir():
            return []
        if (src / "anno.npz").is_file() or (src / "annot.npz").is_file():
            return [src]
        return sorted({p.parent for pat in ("anno.npz", "annot.npz") for p in src.rglob(pat) if p.is_file()}, key=str)

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        if not (item / "anno.npz").is_file():
            raise ConvertError(f"{item / 'annot.npz'}: key '(version)': expected the v1.1+ layout (anno.npz), "
                               "got the v1.0 layout (annot.npz), which this converter does not read")
        path = inside(item, item / "anno.npz")
        data = load_npz(path)
        sizes: dict[str, int] = {}
        xyz = need(data, "trajs_3d", path, ("T", "N", 3), "f", sizes).astype(np.float64)
        valids = need(data, "valids", path, ("T", "N"), "biuf", sizes)
        visibs = need(data, "visibs", path, ("T", "N"), "biuf", sizes)
        for key, arr in (("valids", valids), ("visibs", visibs)):
            extra_vals = np.setdiff1d(np.unique(arr), [0, 1])
            if len(extra_vals):
                raise fail(path, key, "values in {0, 1} (v1.1+)", f"values {np.unique(arr)[:5].tolist()} (the v1.0 coding?)")
        uv_2d = need(data, "trajs_2d", path, ("T", "N", 2), "f", sizes).astype(np.float64)
        k_all = need(data, "intrinsics", path, ("T", 3, 3), "f", sizes).astype(np.float64)
        w2c = need(data, "extrinsics", path, ("T", 4, 4), "f", sizes).astype(np.float64)
        err = rigid_error(w2c)
        if not np.isfinite(w2c).all() or np.nanmax(err) > 1e-3:
            raise fail(path, "extrinsics", "rigid world-to-camera matrices", f"rigid error {np.nanmax(err):.3g}")
        if not np.isfinite(k_all).all() or (k_all[:, 0, 0] <= 0).any() or (k_all[:, 1, 1] <= 0).any():
            raise fail(path, "intrinsics", "finite with fx, fy > 0", "other values")
        idx = settings.frames(sizes["T"])
        rgb, depth = [], []
        for t in idx:
            p_rgb, p_dep = inside(item, item / f"rgbs/rgb_{t:05d}.jpg"), inside(item, item / f"depths/depth_{t:05d}.png")
            img = read_image(p_rgb, "rgb")
            h, w = (rgb[0].shape[:2] if rgb else img.shape[:2])
            check_size(img, p_rgb, "rgb", h, w)
            d = read_uint16_png(p_dep, "depth")
            check_size(d, p_dep, "depth", h, w)
            rgb.append(img)
            depth.append((d * DEPTH_SCALE_M).astype(np.float32))
        pts = xyz[idx].transpose(1, 0, 2)
        ok = np.isfinite(pts).all(-1) & (valids[idx].T > 0)
        keep = ok.any(1)
        c2w = orthonormalise(invert_rigid(w2c[idx]))
        reproj = self._reprojection_px(path, pts, uv_2d[idx].transpose(1, 0, 2), ok & (visibs[idx].T > 0),
                                       k_all[idx], c2w)
        n = int(keep.sum())
        arrays = {
            "intrinsics": k_all[idx], "cam_to_world": c2w, "depth": np.stack(depth).astype(np.float32),
            "tracks_world": fill_invalid(np.where(ok[..., None], pts, 0.0)[keep], ok[keep]).astype(np.float32),
            "tracks_visible": (visibs[idx].T > 0)[keep] & ok[keep],
            "tracks_object": np.full(n, TRACK_OWNER_UNKNOWN, np.int32),
        }
        fps = settings.fps or FPS
        meta = SceneMeta(
            scene_id=scene_name("pointodyssey", item.name), source=self.name, fps=fps / settings.stride, width=w,
            height=h, frames=[], world_up=tuple(estimated_up(c2w)),  # type: ignore[arg-type]
            extra=self.extra(item, src, settings, idx, fps, "--fps" if settings.fps else "PointOdyssey render rate (30)",
                             world_up_from="estimated: mean camera up (-y)", tracks_dropped_never_valid=int((~keep).sum()),
                             reprojection_px_median=reproj,
                             unknown=["instance_mask", "objects", "tracks_object"]),
        )
        return Converted(meta, arrays, rgb)

    @staticmethod
    def _reprojection_px(path: Path, pts: np.ndarray, uv: np.ndarray, sel: np.ndarray, k: np.ndarray,
                         c2w: np.ndarray) -> float | None:
        """Median distance (px) between trajs_3d seen through the cameras and trajs_2d, over visible
        valid points: a check that `extrinsics` is world-to-camera in OpenCV axes (v1.1+)."""
        from qa4d.geometry import project_world

        proj, _ = project_world(pts, k[None], c2w[None])
        err = np.linalg.norm(proj - uv, axis=-1)[sel & np.isfinite(uv).all(-1)]
        if err.size == 0:
            return None
        med = float(np.median(np.where(np.isfinite(err), err, np.inf)))
        if med > MAX_REPROJECTION_PX:
            raise fail(path, "extrinsics", f"world-to-camera (OpenCV) matrices that project trajs_3d onto trajs_2d "
                                           f"(median within {MAX_REPROJECTION_PX} px)", f"a median error of {med:.3g} px")
        return round(med, 4)
