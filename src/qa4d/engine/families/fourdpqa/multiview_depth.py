"""(10) Multi-view depth: which object, each seen in a different frame, is closest to (farthest
from) the camera of its own frame."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._base import Compare
from qa4d.engine.families.fourdpqa._items import multiview_items
from qa4d.engine.registry import register_task


@register_task
class MultiviewDepth(Compare):
    name = "multiview_depth"
    category = "spatial"
    requires = ("object_to_world", "instance_mask")
    multiview = True

    def item_sets(self, ctx, seg, rng):
        return multiview_items(ctx, seg, rng, anchored=False)

    def value(self, scene, item, media, segment):
        return measure.object_depth(scene, scene.object_index(item["object"]), int(media[item["frame"]]))
