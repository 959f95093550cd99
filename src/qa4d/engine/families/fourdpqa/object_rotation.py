"""(3) Object rotation: how an object turns, seen from above."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa import labels
from qa4d.engine.families.fourdpqa._base import Descriptive
from qa4d.engine.registry import register_task


@register_task
class ObjectRotation(Descriptive):
    name = "object_rotation"
    category = "object_motion"
    requires = ("object_to_world",)
    n_objects = 1
    vocabulary = labels.ROTATION_LABELS
    n_options = 3

    def object_pools(self, ctx, seg):
        return [ctx.visible_ids(seg)]

    def measure(self, scene, object_ids, frames):
        return measure.object_rotation(scene, scene.object_index(object_ids[0]), frames)

    def label(self, m, th):
        return labels.rotation_label(m["yaw"], th, tilt=m["tilt"])
