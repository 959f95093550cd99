"""Translational: where an object goes, in the first camera's view with the camera's own motion
compensated (the object's world displacement in the first frame's camera axes)."""

from qa4d.engine.families.vlm4d._base import OPPOSITE, VLM4DTask, category_of, direction, pick, visible_pool
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
            # VLM4D's sets: the two ways along the axis, one other direction, and "not moving" or
            # "no <object> there" (the object is there); all clearly false given the label's bands
            others = [d for d in OPPOSITE if d not in (lab, OPPOSITE[lab]) and d not in ("ccw", "cw")]
            third = others[int(rng.integers(len(others)))]
            fourth = "not_moving" if rng.random() < 0.5 else f"absent:{category_of(ctx.scene, oid)}"
            out.append({"objects": [oid], "label": lab, "option_keys": [OPPOSITE[lab], third, fourth],
                        "meta": {"reference": "first_camera"}})
        return out

    def truth(self, scene, record, frames, th):
        return direction(scene, record["meta"]["objects"][0], frames, th)
