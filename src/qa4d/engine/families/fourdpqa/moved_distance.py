"""(6) Moved distance: which object travels the longest (or shortest) path over the segment."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa._base import Compare
from qa4d.engine.families.fourdpqa._items import MAX_ITEMS, _dedupe
from qa4d.engine.registry import register_task
from qa4d.engine.sampling import choose


@register_task
class MovedDistance(Compare):
    name = "moved_distance"
    category = "object_motion"
    requires = ("object_to_world",)
    per_frame = False

    def item_sets(self, ctx, seg, rng):
        ids = ctx.visible_ids(seg)
        if len(ids) < 2 or not ctx.moving_ids(seg):
            return []  # nothing moves: every answer would be a tie
        sets = [[{"object": int(o), "frame": None} for o in choose(rng, ids, MAX_ITEMS)]
                for _ in range(ctx.config.samples_per_segment)]
        return _dedupe(sets)

    def value(self, scene, item, media, segment):
        return measure.path_length(scene, scene.object_index(item["object"]), segment)
