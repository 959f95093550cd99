"""Counting: how many objects (other than one carrying the camera) translate, or spin about the
vertical, over the clip; and how many times one object hops or reverses its direction. Every object
must be clearly in or out of the video and clearly in or out of the counted class, else no question.

The answer is unbiased by construction: the options are always 0, 1, 2 and 3 (VLM4D's most
frequent set; a larger count is not asked), and balancing (`balance_mode = "uniform"`,
`engine.options.balance_uniform`) keeps, per question wording ("translating", "rotating", "hop",
"reversal") and split, every count equally often, dropping a wording that lacks one. So the answer
is uniform over the options offered whatever the wording: neither an option's value nor its rank
nor the question says anything about the answer."""

import numpy as np

from qa4d.engine import measure
from qa4d.engine.families.vlm4d import _events
from qa4d.engine.kinds.base import Skip
from qa4d.engine.families.vlm4d._base import VLM4DTask, band, camera_mount, pick, spin, translates, visible_pool
from qa4d.engine.registry import register_task

MOTIONS = ("translating", "rotating")
COUNTS = (0, 1, 2, 3)   # the options of every counting question (VLM4D's most frequent set)


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


def events(scene, oid: int, event: str, frames, media, th) -> int | None:
    """Hops or reversals of one object; the same count must show on the shown frames (a hop
    between two shown frames would be invisible), else None."""
    lo, hi = band(th, "hop_m" if event == "hop" else "reversal_m")
    out = []
    for f in (frames, media):
        tr = _events.track(scene, oid, f)
        if tr is None:
            return None
        if event == "reversal" and np.ptp(tr[0]) > band(th, "hop_m")[0]:
            return None  # it also moves up or down: "direction of travel" would be unclear
        out.append(_events.hops(tr[0], lo, hi) if event == "hop" else _events.reversals(tr[1], lo, hi))
    return out[0] if out[0] is not None and out[0] == out[1] else None


@register_task
class Counting(VLM4DTask):
    name = "counting"
    category = "counting"
    balance_mode = "uniform"   # per wording, every count 0-3 equally often (else the wording is dropped)

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        media = ctx.media(seg)
        for motion in MOTIONS:
            n = count(ctx.scene, motion, frames, media, ctx.thresholds)
            if n is None:
                ctx.skip(self.name, f"{motion}: an object is not clearly in/out of the video or of the class")
                continue
            if n not in COUNTS:
                ctx.skip(self.name, f"{motion}: count {n} is beyond the options 0-3")
                continue
            out.append({"objects": [], "label": f"n:{n}", "key": f"{motion}:{n}",
                        "option_keys": [f"n:{k}" for k in COUNTS if k != n],
                        "meta": {"motion": motion, "style": f"counting_{motion}"}})
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            if not translates(ctx.scene, oid, frames, ctx.thresholds):
                continue  # a still object: "how many times" would be trivially 0
            for event in ("hop", "reversal"):
                n = events(ctx.scene, oid, event, frames, media, ctx.thresholds)
                if n is None or (event == "hop" and n == 0):
                    continue
                if n not in COUNTS:
                    ctx.skip(self.name, f"{event}: count {n} is beyond the options 0-3")
                    continue
                out.append({"objects": [oid], "label": f"n:{n}", "key": f"{event}:{n}",
                            "option_keys": [f"n:{k}" for k in COUNTS if k != n],
                            "meta": {"motion": "repeated", "event": event, "style": f"counting_{event}"}})
                break
        return out

    def render(self, cand, fmt, choice, rng, env):
        """Options 0-3. Balancing kept every count of this wording equally often in the split
        (env.pool, keys "<motion or event>:<n>"); when the split lacks one of them altogether
        (balance_uniform keeps the counts it has), the wording cannot be asked without bias."""
        group = cand["key"].rsplit(":", 1)[0]
        have = [int(env.pool.get(f"{group}:{k}", 0)) for k in COUNTS]
        if min(have) == 0 or len(set(have)) != 1:
            raise Skip("the split's answers of this wording do not cover 0-3 equally")
        return super().render(cand, fmt, choice, rng, env)

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        if meta["motion"] == "repeated":
            n = events(scene, meta["objects"][0], meta["event"], frames, record["frame_indices"], th)
            return None if n is None else f"n:{n}"
        n = count(scene, meta["motion"], frames, record["frame_indices"], th)
        return None if n is None else f"n:{n}"

    def wrong(self, scene, record, key, true, frames, th):
        return key != true and key.startswith("n:")


