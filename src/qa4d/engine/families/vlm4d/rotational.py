"""Rotational: which way an object spins about the vertical (world up), seen from above."""

from qa4d.engine.families.vlm4d._base import OPPOSITE, VLM4DTask, category_of, pick, spin, visible_pool
from qa4d.engine.registry import register_task


@register_task
class Rotational(VLM4DTask):
    name = "rotational"
    category = "rotational"

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            lab = spin(ctx.scene, oid, frames, ctx.thresholds)
            if lab not in ("ccw", "cw"):
                ctx.skip(self.name, "no clear spin" if lab is None else "not spinning (a false_positive item)")
                continue
            out.append({"objects": [oid], "label": lab,
                        "option_keys": [OPPOSITE[lab], "not_spinning", f"absent:{category_of(ctx.scene, oid)}"],
                        "meta": {"reference": "above"}})
        return out

    def truth(self, scene, record, frames, th):
        lab = spin(scene, record["meta"]["objects"][0], frames, th)
        return lab if lab in ("ccw", "cw") else None
