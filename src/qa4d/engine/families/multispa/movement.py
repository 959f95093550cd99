"""Object movement of a tracked point between two images ([MS] sec. 3.2.2, App. G, Listing 3;
seed-specs §1.8): how far a point (0-999 coordinates, or circled, in Image-1) moved by the time
of Image-2 (integer mm), or its displacement [x, y, z] in mm in Image-1's camera axes.

Points: 3D tracks (`tracks_world`, `tracks_visible`) grouped into rigid bodies
(`rigid_body_segmentation`, cut at 0.1, noise floor 0.01 m); up to `move_points_per_group` random
points per group; frame pairs per point from `sample_displacement_pairs` (one static pair and 10
equal-width distance bins, one pair per bin as [MS-code]'s eval split), both frames seeing the
point, which must project inside both images; no-motion pairs capped at `move_max_static_share` of
the moving ones (default 0.1; 1 = no cap, preset multispa-paper). World displacement X_2 - X_1 under 10 mm counts as
no motion (answer 0, [MS-code]); by default a displacement inside the dead band
`move_dead_band_m` (around that 10 mm) is too close to call and not asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.draw import COLOUR_NAMES
from qa4d.engine.families.multispa._common import SceneItemsMixin, _cached
from qa4d.engine.kinds.numeric import NumericTask, format_value
from qa4d.engine.registry import register_task
from qa4d.geometry.camera import project_world
from qa4d.geometry.object_motion import point_displacement, projects_inside, sample_displacement_pairs
from qa4d.geometry.pixels import normalise_pixels, pixels_from_normalised
from qa4d.geometry.rigid_segments import rigid_body_segmentation

STATIC_M = 0.01          # [MS-code]: under 10 mm the point did not move


def rigid_groups(scene: Any, th: Any) -> np.ndarray:
    """(N,) rigid-body label of every track (-1: group under `rigid_min_points`)."""
    return _cached(scene, "rigid_groups", th, lambda: rigid_body_segmentation(
        np.asarray(scene.tracks_world, np.float64), threshold=0.1, noise_floor=0.01,
        min_points=int(th.rigid_min_points), valid=np.asarray(scene.tracks_visible, bool)))


def in_dead_band(dist_m: float, th: Any) -> bool:
    lo, hi = th.move_dead_band_m
    return lo < dist_m < hi


def query_point(scene: Any, track: int, frame: int) -> list[int]:
    """0-999 position of track point `track` in image `frame`."""
    uv, _ = project_world(np.asarray(scene.tracks_world[track, frame], np.float64), scene.intrinsics[frame],
                          scene.cam_to_world[frame])
    return [int(v) for v in normalise_pixels(uv, scene.meta.width, scene.meta.height)]


def movement_items(scene: Any, task: str, th: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    X = np.asarray(scene.tracks_world, np.float64)
    vis = np.asarray(scene.tracks_visible, bool)
    groups = rigid_groups(scene, th)
    owner = np.asarray(scene.tracks_object) if scene.has("tracks_object") else np.full(len(X), -1)
    W, H = scene.meta.width, scene.meta.height
    out = []
    for g in range(int(groups.max(initial=-1)) + 1):
        members = np.flatnonzero(groups == g)
        for n in rng.permutation(members)[: int(th.move_points_per_group)]:
            pairs = sample_displacement_pairs(X[n], vis[n], rng, pairs_per_bin=1, static_threshold=STATIC_M)
            for a, b in pairs:
                a, b = int(a), int(b)
                inside = projects_inside(X[n, [a, b]], scene.intrinsics[[a, b]], scene.cam_to_world[[a, b]], W, H)
                if not inside.all():
                    continue
                out.append({"frames": [a, b], "track": int(n), "object_id": int(owner[n]),
                            "point": query_point(scene, int(n), a),
                            "static": bool(np.linalg.norm(X[n, b] - X[n, a]) < STATIC_M)})
    out = cap_static(out, float(th.move_max_static_share), rng)
    if len(out) > int(th.move_pairs_per_scene):
        keep = np.sort(rng.choice(len(out), size=int(th.move_pairs_per_scene), replace=False))
        out = [out[int(k)] for k in keep]
    return out


def cap_static(items: list[dict[str, Any]], share: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Keep at most `share` x len(moving items) (at least one) of the no-motion items, at random:
    every point gives one static pair ([MS-code]) and the background's points only that, so
    without a cap "did not move" would be a blind guess worth a quarter of the answers."""
    static = [i for i, it in enumerate(items) if it["static"]]
    limit = max(1, int(np.ceil(share * (len(items) - len(static)))))
    if share >= 1.0 or len(static) <= limit:
        return items
    drop = set(int(static[int(k)]) for k in rng.choice(len(static), size=len(static) - limit, replace=False))
    return [it for i, it in enumerate(items) if i not in drop]


class _Movement(SceneItemsMixin, NumericTask):
    family = "multispa"
    unit = "mm"
    requires = ("cam_to_world", "intrinsics", "tracks_world", "tracks_visible")
    dot = False

    def items(self, ctx, seg, rng):
        items = movement_items(ctx.scene, self.name, ctx.thresholds, rng)
        for it in items:
            if self.dot:
                it["colour"] = str(COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))])
        return items

    def displacement(self, scene, item, th):
        """(vector mm in camera-1 axes, distance mm) or None when not asked (dead band, point moved off)."""
        a, b = item["frames"]
        n = int(item["track"])
        X = np.asarray(scene.tracks_world, np.float64)
        if query_point(scene, n, a) != list(item["point"]):
            return None
        vec, dist, _ = point_displacement(X[n, a], X[n, b], scene.cam_to_world[a], static_threshold=STATIC_M)
        raw = float(np.linalg.norm(X[n, b] - X[n, a]))
        if in_dead_band(raw, th):
            return None
        return [1000.0 * float(v) for v in vec], 1000.0 * float(dist)

    def objects(self, item):
        return [int(item["object_id"])] if int(item["object_id"]) > 0 else []

    def slots(self, cand, rng, env):
        it = cand["item"]
        return {"dot": it["colour"]} if self.dot else {"point": format_value(it["point"])}

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        it = cand["item"]
        out["meta"]["object_id"] = int(it["object_id"])
        out["meta"]["points"] = [{"image": 0, "x": it["point"][0], "y": it["point"][1], "label": it.get("colour", "query")}]
        moved = any(v != 0 for v in np.atleast_1d(cand["value"]))
        if not moved:
            out["answer"] = "The point did not move. " + out["answer"]
        if self.dot:
            W, H = env.scene_meta.width, env.scene_meta.height
            u, v = pixels_from_normalised(np.asarray(it["point"], float), W, H)
            out["meta"]["refs"] = [{"mode": "prompt", "media": 0, "cx": float(u), "cy": float(v),
                                    "r": max(2.0, 0.04 * min(W, H)), "colour": it["colour"]}]
        return out


class _Distance(_Movement):
    category = "object_movement_distance"
    answer_format = "scalar"

    def value(self, scene, item, media, thresholds):
        d = self.displacement(scene, item, thresholds)
        return None if d is None else d[1]


class _Vector(_Movement):
    category = "object_movement_vector"
    answer_format = "vector"

    def value(self, scene, item, media, thresholds):
        d = self.displacement(scene, item, thresholds)
        return None if d is None else d[0]


@register_task
class ObjectDistanceCoord(_Distance):
    name, dot = "object_distance_coord", False


@register_task
class ObjectDistanceDot(_Distance):
    name, dot = "object_distance_dot", True


@register_task
class ObjectVectorCoord(_Vector):
    name, dot = "object_vector_coord", False


@register_task
class ObjectVectorDot(_Vector):
    name, dot = "object_vector_dot", True
