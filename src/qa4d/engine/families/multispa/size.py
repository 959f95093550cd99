"""Object size on a 2-image set ([MS] sec. 3.2.1, App. F; seed-specs §1.9): the height, width or
length (integer mm) of a static object, shown in two images that together, but neither alone,
cover that dimension.

Sizes come from the object's axis-aligned box in the gravity-aligned world (z up; scenes whose
`world_up` is not +z are skipped): the box `object_extent` posed by `object_to_world` at the first
frame gives the world extents |R| @ extent; height = dz, length = max(dx, dy), width = min(dx, dy)
(`qa4d.geometry.coverage.object_size`). Coverage uses the object's points: pixels of its mask
back-projected through the depth maps of `cloud_frames` frames; a point counts in an image when
it passes the visibility test ([MS] Eq. 3, tolerance `visibility_tolerance_m`). The pair is one of
`coverage.covering_pairs` (tolerance 10 %, [MS-code]); up to `size_pairs_per_object` distinct pairs
are drawn at random per object and dimension ([MS-code] keeps every minimal covering set of an
object, not one), each shown in random order. Objects are named by their caption, asked only when
no other object of the scene shares it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.families.multispa._common import SceneItemsMixin, _cached, hash_id, static_owner_ids
from qa4d.engine.kinds.imageset import ImageSetTask
from qa4d.engine.registry import register_task
from qa4d.geometry.camera import unproject_to_world
from qa4d.geometry.coverage import box_extents, covering_pairs, covers, image_extents, object_size, set_coverage
from qa4d.geometry.visibility import visible_points

COVER_TOL = 0.1


def world_box_extents(scene: Any, object_id: int) -> np.ndarray | None:
    """(3,) world axis-aligned extents of the object's box at frame 0 (|R| @ extent), or None."""
    i = scene.object_index(object_id)
    ext = np.asarray(scene.object_extent[i], dtype=np.float64)
    pose = np.asarray(scene.object_to_world[i, 0], dtype=np.float64)
    if not (np.all(np.isfinite(ext)) and np.all(ext > 0) and np.all(np.isfinite(pose))):
        return None
    corners = np.array([[sx, sy, sz] for sx in (-.5, .5) for sy in (-.5, .5) for sz in (-.5, .5)]) * ext
    return box_extents(corners @ pose[:3, :3].T)


def object_points(scene: Any, object_id: int, th: Any) -> np.ndarray:
    """(N, 3) world points on the object: its mask pixels back-projected (seeded by scene and object)."""
    def compute() -> np.ndarray:
        rng = np.random.default_rng(hash_id(f"{scene.scene_id}/{object_id}"))
        T = scene.num_frames
        out = []
        for t in np.unique(np.round(np.linspace(0, T - 1, min(T, int(th.cloud_frames)))).astype(int)):
            d = np.asarray(scene.depth[t], dtype=np.float64)
            rows, cols = np.nonzero((scene.instance_mask[t] == object_id) & np.isfinite(d) & (d > 0))
            if not len(rows):
                continue
            pick = rng.choice(len(rows), size=min(len(rows), int(th.cloud_points_per_frame)), replace=False)
            uv = np.stack([cols[pick] + 0.5, rows[pick] + 0.5], axis=1)
            out.append(unproject_to_world(uv, d[rows[pick], cols[pick]], scene.intrinsics[t], scene.cam_to_world[t]))
        return np.concatenate(out) if out else np.zeros((0, 3))
    return _cached(scene, f"object_points/{object_id}", th, compute)


def object_visibility(scene: Any, object_id: int, th: Any) -> np.ndarray:
    """(N, T) bool: which of `object_points` each frame sees."""
    def compute() -> np.ndarray:
        pts = object_points(scene, object_id, th)
        return visible_points(pts, scene.intrinsics, scene.cam_to_world, scene.depth, scene.meta.width,
                              scene.meta.height, tolerance=float(th.visibility_tolerance_m))
    return _cached(scene, f"object_vis/{object_id}", th, compute)


def unique_caption_ids(scene: Any) -> list[int]:
    caps = [o.caption for o in scene.objects]
    return [o.id for o in scene.objects if o.caption and caps.count(o.caption) == 1 and getattr(o, "rigid", True)]


class _Size(SceneItemsMixin, ImageSetTask):
    family = "multispa"
    category = "object_size"
    answer_format = "scalar"
    unit = "mm"
    requires = ("depth", "cam_to_world", "intrinsics", "instance_mask", "object_to_world", "object_extent")
    dimension = ""

    def target(self, scene: Any, object_id: int) -> tuple[float, int] | None:
        """(size in metres, world axis) of the asked dimension, or None."""
        if not np.allclose(scene.world_up, [0.0, 0.0, 1.0]):
            return None
        ext = world_box_extents(scene, object_id)
        if ext is None:
            return None
        s = object_size(ext)
        return getattr(s, self.dimension), getattr(s, f"{self.dimension}_axis")

    def extents(self, scene: Any, object_id: int, axis: int, th: Any) -> tuple[np.ndarray, np.ndarray]:
        pts = object_points(scene, object_id, th)
        return image_extents(pts[:, axis], object_visibility(scene, object_id, th))

    def items(self, ctx, seg, rng):
        scene, th = ctx.scene, ctx.thresholds
        out = []
        statics = static_owner_ids(scene, th)
        for oid in unique_caption_ids(scene):
            if oid not in statics:
                continue
            tgt = self.target(scene, oid)
            if tgt is None or not len(object_points(scene, oid, th)):
                ctx.skip(self.name, "object size unknown or object never seen")
                continue
            lo, hi = self.extents(scene, oid, tgt[1], th)
            pairs = covering_pairs(lo, hi, tgt[0], COVER_TOL)
            if not len(pairs):
                ctx.skip(self.name, "no two images cover the object (or one alone does)")
                continue
            k = min(len(pairs), int(th.size_pairs_per_object))
            for i in sorted(int(v) for v in rng.choice(len(pairs), size=k, replace=False)):
                a, b = (int(v) for v in pairs[i])
                out.append({"frames": [a, b] if rng.random() < 0.5 else [b, a], "objects": [oid], "object_id": oid})
        return out

    def value(self, scene, item, media, thresholds):
        tgt = self.target(scene, int(item["object_id"]))
        return None if tgt is None else 1000.0 * tgt[0]

    def set_ok(self, scene, item, frames, thresholds):
        oid = int(item["object_id"])
        tgt = self.target(scene, oid)
        if tgt is None:
            return False
        lo, hi = self.extents(scene, oid, tgt[1], thresholds)
        alone = [covers(set_coverage(lo, hi, [f]), tgt[0], COVER_TOL) for f in frames]
        return bool(covers(set_coverage(lo, hi, list(frames)), tgt[0], COVER_TOL)) and not any(alone)

    def slots(self, cand, rng, env):
        oid = int(cand["item"]["object_id"])
        cap = next(o.caption for o in env.scene_meta.objects if o.id == oid)
        return {"obj": cap}

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        out["meta"]["object_id"] = int(cand["item"]["object_id"])
        return out


@register_task
class ObjectHeight(_Size):
    name, dimension = "object_height", "height"


@register_task
class ObjectWidth(_Size):
    name, dimension = "object_width", "width"


@register_task
class ObjectLength(_Size):
    name, dimension = "object_length", "length"
