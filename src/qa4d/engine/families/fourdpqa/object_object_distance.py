"""(9) Object-object distance: which object is closest to (farthest from) a reference object in one frame."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._base import Compare
from qa4d.engine.families.fourdpqa._items import same_frame_items
from qa4d.engine.registry import register_task


@register_task
class ObjectObjectDistance(Compare):
    name = "object_object_distance"
    category = "spatial"
    requires = ("object_to_world", "instance_mask")

    def item_sets(self, ctx, seg, rng):
        return same_frame_items(ctx, seg, rng, anchored=True)

    def value(self, scene, item, media, segment):
        return measure.object_object_distance(
            scene, scene.object_index(item["ref_object"]), scene.object_index(item["object"]), int(media[item["frame"]])
        )
