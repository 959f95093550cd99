"""(8) Depth: which object is closest to (farthest from) the camera in one frame."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._base import Compare
from qa4d.engine.families.fourdpqa._items import same_frame_items
from qa4d.engine.registry import register_task


@register_task
class Depth(Compare):
    name = "depth"
    category = "spatial"
    requires = ("object_to_world", "instance_mask")

    def item_sets(self, ctx, seg, rng):
        return same_frame_items(ctx, seg, rng, anchored=False)

    def value(self, scene, item, media, segment):
        return measure.object_depth(scene, scene.object_index(item["object"]), int(media[item["frame"]]))
