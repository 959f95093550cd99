"""(2) Camera-object distance change: does the camera get closer to an object, farther, or neither."""

import numpy as np

from qa4d.engine import labels, measure
from qa4d.engine.families.base import DescriptiveTask
from qa4d.engine.registry import register_task


@register_task
class CameraObjectDistanceChange(DescriptiveTask):
    name = "camera_object_distance_change"
    category = "camera_motion"
    requires = ("object_to_world",)
    n_objects = 1
    vocabulary = labels.DISTANCE_CHANGE_LABELS
    n_options = 3  # the vocabulary has three labels

    def object_pools(self, ctx, seg):
        return [ctx.visible_ids(seg)]

    def measure(self, scene, object_ids, frames):
        s = measure.distance_series_camera(scene, scene.object_index(object_ids[0]), frames)
        return {"series": [float(v) for v in s], "first": float(s[0]), "last": float(s[-1])}

    def label(self, m, th):
        return labels.distance_change_label(np.array([np.nan if v is None else v for v in m["series"]], float), th)
