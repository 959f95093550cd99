"""Counting: how many objects (other than one carrying the camera) translate, or spin about the
vertical, over the clip. Every object must be clearly in or out of the video and clearly in or
out of the counted class, else no question."""

from qa4d.engine import measure
from qa4d.engine.families.vlm4d._base import VLM4DTask, camera_mount, spin, translates
from qa4d.engine.registry import register_task

MOTIONS = ("translating", "rotating")


def count(scene, motion: str, frames, media, th) -> int | None:
    mount = camera_mount(scene, frames, th)
    n = 0
    for i, o in enumerate(scene.objects):
        if o.id == mount:
            continue
        frac = measure.visible_fraction(scene, i, media, min_pixels=int(th.min_mask_pixels))
        if frac == 0.0:
            continue
        if frac < th.min_visible_fraction or not getattr(o, "rigid", True):
            return None
        if motion == "translating":
            yes = translates(scene, o.id, frames, th)
        else:
            s = spin(scene, o.id, frames, th)
            yes = None if s is None else s != "not_spinning"
        if yes is None:
            return None
        n += int(yes)
    return n


@register_task
class Counting(VLM4DTask):
    name = "counting"
    category = "counting"
    balance_mode = "cap"   # counts are naturally uneven (VLM4D's too); no count dominates

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        media = ctx.media(seg)
        for motion in MOTIONS:
            n = count(ctx.scene, motion, frames, media, ctx.thresholds)
            if n is None:
                ctx.skip(self.name, f"{motion}: an object is not clearly in/out of the video or of the class")
                continue
            start = max(0, n - int(rng.integers(4)))
            keys = [f"n:{k}" for k in range(start, start + 4) if k != n]
            out.append({"objects": [], "label": f"n:{n}", "key": str(n), "option_keys": keys,
                        "meta": {"motion": motion, "style": f"counting_{motion}"}})
        return out

    def truth(self, scene, record, frames, th):
        n = count(scene, record["meta"]["motion"], frames, record["frame_indices"], th)
        return None if n is None else f"n:{n}"

    def wrong(self, scene, record, key, true, frames, th):
        return key != true and key.startswith("n:")


