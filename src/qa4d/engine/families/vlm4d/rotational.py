"""Rotational: which way an object spins about the vertical (world up), seen from above.

VLM4D's rotation set {clockwise, counter-clockwise, not spinning, no <object> there} is offered
whole in every question, and each of the four is the answer equally often: "not spinning" for an
object whose orientation stays put, "no <object> there" for a category absent from the scene
(these two are false-positive answers, marked `meta.fp`)."""

from qa4d.engine.families.vlm4d._base import (
    VLM4DTask, absent_item, category_of, name_tag, is_absent, pick, spin, visible_pool, vocab,
)
from qa4d.engine.registry import register_task


@register_task
class Rotational(VLM4DTask):
    name = "rotational"
    category = "rotational"
    caption_only = True

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            lab = spin(ctx.scene, oid, frames, ctx.thresholds)
            if lab is None:
                ctx.skip(self.name, "no clear spin")
                continue
            keys = [k for k in ("ccw", "cw", "not_spinning") if k != lab] + [f"absent:{category_of(ctx.scene, oid)}"]
            meta = {"reference": "above", **({"fp": "not_spinning"} if lab == "not_spinning" else {})}
            out.append({"objects": [oid], "label": lab, "option_keys": keys, "meta": meta,
                        "pool_tags": [t for t in [name_tag(ctx.scene, oid)] if t]})
        # round objects are asked about only when still: not named as absent either
        a = absent_item(ctx.scene, rng, ["ccw", "cw", "not_spinning"], fixed=True,
                        skip=vocab()["spin_symmetric_categories"])
        if a:
            a["meta"]["reference"] = "above"
            out.append(a)
        return out

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        if meta.get("absent_category"):
            return f"absent:{meta['absent_category']}" if is_absent(scene, meta["absent_category"]) else None
        return spin(scene, meta["objects"][0], frames, th)

    def wrong(self, scene, record, key, true, frames, th):
        if true.startswith("absent:"):  # nothing of an absent category spins or stands still
            return key != true
        return super().wrong(scene, record, key, true, frames, th)
