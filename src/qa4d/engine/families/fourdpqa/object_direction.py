"""(4) Object direction: where an object moves, relative to the first frame's viewpoint."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa import labels
from qa4d.engine.families.fourdpqa._base import Descriptive
from qa4d.engine.registry import register_task


@register_task
class ObjectDirection(Descriptive):
    name = "object_direction"
    category = "object_motion"
    requires = ("object_to_world",)
    n_objects = 1
    list_label = True
    vocabulary = labels.DIRECTION_LABELS + ("static",)
    opposite = {"left": "right", "right": "left", "up": "down", "down": "up", "towards": "away", "away": "towards"}

    def object_pools(self, ctx, seg):
        return [ctx.visible_ids(seg)]

    def measure(self, scene, object_ids, frames):
        return measure.object_direction(scene, scene.object_index(object_ids[0]), frames)

    def label(self, m, th):
        return labels.direction_label(m, th)
