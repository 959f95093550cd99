"""False positives: a still object ("not moving", "not spinning") and an absent category
("no <object> there"), asked in the words of the translational and rotational questions."""

from qa4d.engine.families.vlm4d._base import (
    VLM4DTask, category_of, is_absent, max_shift, pick, spin, visible_pool, vocab,
)
from qa4d.engine.registry import register_task

PAIRS = (("left", "right"), ("towards", "away"))


@register_task
class FalsePositive(VLM4DTask):
    name = "false_positive"
    category = "false_positive"

    def items(self, ctx, seg, frames, rng, exclude):
        sc, th = ctx.scene, ctx.thresholds
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            cat = f"absent:{category_of(sc, oid)}"
            if spin(sc, oid, frames, th) != "not_spinning":
                ctx.skip(self.name, "object turns")
                continue
            if max_shift(sc, oid, frames) <= th.translate_m[0] and rng.random() < 0.5:
                pair = PAIRS[int(rng.integers(2))]
                out.append({"objects": [oid], "label": "not_moving", "option_keys": [*pair, cat],
                            "meta": {"fp": "not_moving", "style": "translational"}})
            else:
                out.append({"objects": [oid], "label": "not_spinning", "option_keys": ["ccw", "cw", cat],
                            "meta": {"fp": "not_spinning", "style": "rotational"}})
        absent = [c for c in vocab()["absent_categories"] if is_absent(sc, c)]
        if absent:
            c = absent[int(rng.integers(len(absent)))]
            style = "translational" if rng.random() < 0.5 else "rotational"
            keys = ["left", "right", "not_moving"] if style == "translational" else ["ccw", "cw", "not_spinning"]
            out.append({"objects": [], "label": f"absent:{c}", "key": "absent", "option_keys": keys,
                        "meta": {"fp": "absent", "style": style, "absent_category": c}})
        return out

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        if meta["fp"] == "absent":
            c = meta["absent_category"]
            return f"absent:{c}" if is_absent(scene, c) else None
        oid = meta["objects"][0]
        if spin(scene, oid, frames, th) != "not_spinning":
            return None
        if meta["fp"] == "not_moving":
            return "not_moving" if max_shift(scene, oid, frames) <= th.translate_m[0] else None
        return "not_spinning"

    def wrong(self, scene, record, key, true, frames, th):
        if true.startswith("absent:"):  # nothing of an absent category moves or spins
            return key != true
        return super().wrong(scene, record, key, true, frames, th)
