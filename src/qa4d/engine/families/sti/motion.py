"""Dynamic STI tasks: displacement and path length, speed and acceleration, between stated times.

Definitions (docs/families/sti.md): an object's position is the centre of its 3D box (the
translation of object_to_world); the window [t0, t1] runs over every scene frame between the two
stated (shown) frames. Path length sums the distances between consecutive scene frames;
displacement is the straight line from t0 to t1; average speed = path length / (t1 - t0);
acceleration is 2x the quadratic coefficient of a least-squares fit of the position along the
line of motion over the window (exact under constant acceleration), positive when speeding up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.families.sti._base import NumericSTITask, pick_frames
from qa4d.engine.families.sti._geom import along_track, average_speed, displacement, path_length, quadratic_fit
from qa4d.engine.registry import register_task


def window(scene: Any, item: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) box centres of the item's object and (N,) times over its stated window."""
    f0, f1 = item["frames"]
    frames = np.arange(f0, f1 + 1)
    k = scene.object_index(item["objects"][0])
    pts = np.asarray(scene.object_to_world[k][frames, :3, 3], dtype=np.float64)
    return pts, frames / float(scene.meta.fps)  # the scene's clock, not the record's


class _WindowTask(NumericSTITask):
    requires = ("object_to_world",)
    quantities: tuple[str, ...] = ()

    def pools(self, ctx, seg):
        return [ctx.moving_ids(seg)]

    def times(self, ctx, seg, rng):
        return pick_frames(ctx.media(seg), rng, 2)

    def extra_item(self, ctx, seg, objs, rng):
        q = self.quantities[int(rng.integers(len(self.quantities)))]
        return {"quantity": q, "unit": self.units[q], "decimals": 2}

    def window_ok(self, pts: np.ndarray, times: np.ndarray, th: Any) -> bool:
        return (times[-1] - times[0] >= float(th.min_window_s) and bool(np.isfinite(pts).all())
                and path_length(pts) >= float(th.min_path_m))


@register_task
class DisplacementPathLength(_WindowTask):
    name = "displacement_path_length"
    category = "dynamic"
    quantities = ("displacement", "path_length")
    units = {"displacement": "m", "path_length": "m"}

    def measure(self, scene, item, th):
        pts, times = window(scene, item)
        if not self.window_ok(pts, times, th):
            return None
        if item["quantity"] == "path_length":
            return path_length(pts)
        d = displacement(pts)
        return d if d >= float(th.min_path_m) else None


@register_task
class SpeedAcceleration(_WindowTask):
    name = "speed_acceleration"
    category = "dynamic"
    quantities = ("speed", "acceleration")
    units = {"speed": "m/s", "acceleration": "m/s²"}

    def measure(self, scene, item, th):
        pts, times = window(scene, item)
        if not self.window_ok(pts, times, th):
            return None
        if item["quantity"] == "speed":
            return average_speed(pts, times)
        return constant_acceleration(pts, times, th)

    def is_signed(self, item):  # accelerations may be negative (slowing down)
        return item["quantity"] == "acceleration"


def constant_acceleration(pts: np.ndarray, times: np.ndarray, th: Any) -> float | None:
    """Acceleration along the line of motion (m/s^2) of points (N, 3) at times (N,), or None when
    the motion is not along one line, the window is too short, the acceleration is not constant,
    or it is below `accel_min_mps2` (constant speed: not asked, so 0 is not the common answer)."""
    if len(pts) < int(th.accel_min_frames):
        return None
    s, straight = along_track(pts)
    if straight < float(th.accel_straightness):
        return None
    a, _, rms = quadratic_fit(times, s)
    if rms > float(th.accel_fit_rms_rel) * path_length(pts) + 1e-3 or abs(a) < float(th.accel_min_mps2):
        return None
    return a
