"""(2) Camera-object distance change: does the camera get closer to an object, farther, or neither."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._distance import DistanceChangeTask
from qa4d.engine.registry import register_task


@register_task
class CameraObjectDistanceChange(DistanceChangeTask):
    name = "camera_object_distance_change"
    category = "camera_motion"
    requires = ("object_to_world",)
    n_objects = 1

    def object_pools(self, ctx, seg):
        return [ctx.visible_ids(seg)]

    def measure(self, scene, object_ids, frames):
        s = measure.distance_series_camera(scene, scene.object_index(object_ids[0]), frames)
        return {"series": [float(v) for v in s], "first": float(s[0]), "last": float(s[-1])}
