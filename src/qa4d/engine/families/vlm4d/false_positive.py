"""False positives, asked in the translational wording with VLM4D's synthetic option set {left,
right, not moving, no <object> there}, offered whole every time: an object that does not move
("not moving"), a category that is not in the scene ("no <object> there"), and as controls objects
moving clearly left or right; the four answers are equally frequent, so neither "nothing happens"
nor "something happens" is the default."""

from qa4d.engine.families.vlm4d._base import (
    VLM4DTask, absent_item, category_of, name_tag, direction, is_absent, max_shift, pick, spin, visible_pool, vocab,
)
from qa4d.engine.registry import register_task

SET = ("left", "right", "not_moving")   # with "no <object> there": the four options


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
            lab = "not_moving" if s else direction(sc, oid, frames, th)
            if lab not in SET:
                ctx.skip(self.name, "moves, but not left or right")
                continue
            keys = [k for k in SET if k != lab] + [f"absent:{category_of(sc, oid)}"]
            out.append({"objects": [oid], "label": lab, "option_keys": keys,
                        "pool_tags": [t for t in [name_tag(sc, oid)] if t],
                        "meta": {"fp": "not_moving" if s else "control", "style": "translational"}})
        # agents seldom stand still or drive straight left/right: not named as absent either
        a = absent_item(sc, rng, list(SET), fixed=True, skip=vocab()["agent_categories"])
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
        lab = None if s is None else "not_moving" if s else direction(scene, oid, frames, th)
        return lab if lab in SET else None

    def wrong(self, scene, record, key, true, frames, th):
        if true.startswith("absent:"):  # nothing of an absent category moves or stands still
            return key != true
        return super().wrong(scene, record, key, true, frames, th)
