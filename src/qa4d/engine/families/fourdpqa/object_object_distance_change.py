"""(7) Object-object distance change: do two objects get closer, farther apart, or neither."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._distance import DistanceChangeTask
from qa4d.engine.registry import register_task


@register_task
class ObjectObjectDistanceChange(DistanceChangeTask):
    name = "object_object_distance_change"
    category = "object_motion"
    requires = ("object_to_world",)
    n_objects = 2

    def object_pools(self, ctx, seg):
        ids = ctx.visible_ids(seg)
        return [ids, ids]

    def measure(self, scene, object_ids, frames):
        i, j = (scene.object_index(o) for o in object_ids)
        s = measure.distance_series_objects(scene, i, j, frames)
        return {"series": [float(v) for v in s], "first": float(s[0]), "last": float(s[-1])}
