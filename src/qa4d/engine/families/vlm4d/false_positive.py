"""False positives, asked in the translational wording: an object that does not move ("not
moving") and a category that is not in the scene ("no <object> there"), mixed with equally many
moving objects (answer: their direction) so that neither "nothing happens" nor "something
happens" is the default; every text is the answer in about a quarter of the questions offering it."""

from qa4d.engine.families.vlm4d._base import (
    DIRECTIONS, VLM4DTask, absent_item, category_of, direction, is_absent, max_shift, pick, spin, visible_pool,
)
from qa4d.engine.registry import register_task


def still(scene, oid, frames, th) -> bool | None:
    """True: never leaves its first place (<= translate_m low) nor turns (<= spin_static_deg);
    None: neither still nor with one clear direction."""
    if max_shift(scene, oid, frames) <= th.translate_m[0] and spin(scene, oid, frames, th) == "not_spinning":
        return True
    return False if direction(scene, oid, frames, th) is not None else None


@register_task
class FalsePositive(VLM4DTask):
    name = "false_positive"
    category = "false_positive"
    caption_only = True

    def items(self, ctx, seg, frames, rng, exclude):
        sc, th = ctx.scene, ctx.thresholds
        out = []
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            s = still(sc, oid, frames, th)
            if s is None:
                ctx.skip(self.name, "neither still nor one clear direction")
                continue
            cat = f"absent:{category_of(sc, oid)}"
            lab = "not_moving" if s else direction(sc, oid, frames, th)
            valid = [d for d in DIRECTIONS if d != lab] + [cat] + ([] if s else ["not_moving"])
            out.append({"objects": [oid], "label": lab, "valid_keys": valid,
                        "meta": {"fp": "not_moving" if s else "control", "style": "translational"}})
        a = absent_item(sc, rng, list(DIRECTIONS) + ["not_moving"], fixed=False)
        if a:
            a["meta"]["style"] = "translational"
            out.append(a)
        return out

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        if meta["fp"] == "absent":
            c = meta["absent_category"]
            return f"absent:{c}" if is_absent(scene, c) else None
        oid = meta["objects"][0]
        s = still(scene, oid, frames, th)
        return None if s is None else "not_moving" if s else direction(scene, oid, frames, th)

    def wrong(self, scene, record, key, true, frames, th):
        if true.startswith("absent:"):  # nothing of an absent category moves or stands still
            return key != true
        return super().wrong(scene, record, key, true, frames, th)
