"""(11) Multi-view object-object distance: which object, each at a different frame, is closest to
(farthest from) a reference object at that same frame."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._base import Compare
from qa4d.engine.families.fourdpqa._items import multiview_items
from qa4d.engine.registry import register_task


@register_task
class MultiviewObjectObjectDistance(Compare):
    name = "multiview_object_object_distance"
    category = "spatial"
    requires = ("object_to_world", "instance_mask")
    multiview = True

    def item_sets(self, ctx, seg, rng):
        return multiview_items(ctx, seg, rng, anchored=True)

    def value(self, scene, item, media, segment):
        return measure.object_object_distance(
            scene, scene.object_index(item["ref_object"]), scene.object_index(item["object"]), int(media[item["frame"]])
        )
