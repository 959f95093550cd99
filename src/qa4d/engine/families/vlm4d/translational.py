"""Translational: where an object goes, in the first camera's view with the camera's own motion
compensated (the object's world displacement in the first frame's camera axes)."""

from qa4d.engine.families.vlm4d._base import DIRECTIONS, VLM4DTask, direction, pick, visible_pool
from qa4d.engine.registry import register_task


@register_task
class Translational(VLM4DTask):
    name = "translational"
    category = "translational"

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            lab = direction(ctx.scene, oid, frames, ctx.thresholds)
            if lab is None:
                ctx.skip(self.name, "not one clear direction")
                continue
            out.append({"objects": [oid], "label": lab, "valid_keys": [d for d in DIRECTIONS if d != lab],
                        "meta": {"reference": "first_camera"}})
        return out

    def truth(self, scene, record, frames, th):
        return direction(scene, record["meta"]["objects"][0], frames, th)
