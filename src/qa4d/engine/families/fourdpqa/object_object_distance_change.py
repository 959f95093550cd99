"""(7) Object-object distance change: do two objects get closer, farther apart, or neither."""

import numpy as np

from qa4d.engine import labels, measure
from qa4d.engine.families.base import DescriptiveTask
from qa4d.engine.registry import register_task


@register_task
class ObjectObjectDistanceChange(DescriptiveTask):
    name = "object_object_distance_change"
    category = "object_motion"
    requires = ("object_to_world",)
    n_objects = 2
    vocabulary = labels.DISTANCE_CHANGE_LABELS
    n_options = 3

    def object_pools(self, ctx, seg):
        ids = ctx.visible_ids(seg)
        return [ids, ids]

    def measure(self, scene, object_ids, frames):
        i, j = (scene.object_index(o) for o in object_ids)
        s = measure.distance_series_objects(scene, i, j, frames)
        return {"series": [float(v) for v in s], "first": float(s[0]), "last": float(s[-1])}

    def label(self, m, th):
        return labels.distance_change_label(np.array([np.nan if v is None else v for v in m["series"]], float), th)
