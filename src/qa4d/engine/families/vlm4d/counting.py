"""Counting: how many objects (other than one carrying the camera) translate, or spin about the
vertical, over the clip; and how many times one object hops or reverses its direction. Every object must be clearly in or out of the video and clearly in or
out of the counted class, else no question."""

import numpy as np

from qa4d.engine import measure
from qa4d.engine.families.vlm4d import _events
from qa4d.engine.kinds.base import Skip
from qa4d.engine.families.vlm4d._base import VLM4DTask, band, camera_mount, pick, spin, translates, visible_pool
from qa4d.engine.registry import register_task

MOTIONS = ("translating", "rotating")
N_OPTIONS = 4


def rank_weights(counts: dict[int, int], n_options: int = N_OPTIONS, iterations: int = 200) -> dict[int, np.ndarray]:
    """For answers n with counts[n] questions: per n, probabilities (n_options,) of the answer's
    rank among n_options consecutive non-negative options (rank r means options n-r .. n-r+k-1, so
    r <= n). Iterative proportional fitting from uniform-over-feasible towards a uniform marginal of
    ranks: exact when feasible, else as close as the constraints allow (e.g. more than a quarter of
    answers at 0 keeps rank 0 above a quarter)."""
    ns = sorted(k for k, c in counts.items() if c > 0)
    q = {n: np.array([1.0 if r <= n else 0.0 for r in range(n_options)]) for n in ns}
    q = {n: v / v.sum() for n, v in q.items()}
    total = float(sum(counts[n] for n in ns))
    for _ in range(iterations):
        marg = sum(counts[n] * q[n] for n in ns) if ns else np.zeros(n_options)
        factor = np.where(marg > 0, (total / n_options) / np.maximum(marg, 1e-12), 1.0)
        q = {n: (q[n] * factor) / (q[n] * factor).sum() for n in ns}
    return q


def zero_keep(counts: dict[int, float], n_options: int = N_OPTIONS) -> float:
    """Share of the 0 answers to keep so that they are at most 1 / n_options of all answers: a 0
    is always the smallest option, so beyond that share "pick the smallest" (and the answer 0)
    would beat chance whatever the ranks of the others. 1.0 when they already are."""
    c0 = float(counts.get(0, 0))
    rest = float(sum(c for k, c in counts.items() if k != 0))
    if c0 <= 0 or c0 * n_options <= c0 + rest:
        return 1.0
    return rest / ((n_options - 1) * c0)


def window(n: int, rank: int, n_options: int = N_OPTIONS) -> list[int]:
    """n_options consecutive integers from n - rank (n is the rank-th smallest, 0-based)."""
    return list(range(n - rank, n - rank + n_options))


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
    balance_mode = "cap"   # counts are naturally uneven (VLM4D's too); no count dominates

    def items(self, ctx, seg, frames, rng, exclude):
        out = []
        media = ctx.media(seg)
        for motion in MOTIONS:
            n = count(ctx.scene, motion, frames, media, ctx.thresholds)
            if n is None:
                ctx.skip(self.name, f"{motion}: an object is not clearly in/out of the video or of the class")
                continue
            out.append({"objects": [], "label": f"n:{n}", "key": f"{motion}:{n}", "option_keys": [],
                        "meta": {"motion": motion, "style": f"counting_{motion}"}})
        for oid in pick(rng, visible_pool(ctx, seg, exclude), ctx.config.samples_per_segment):
            if not translates(ctx.scene, oid, frames, ctx.thresholds):
                continue  # a still object: "how many times" would be trivially 0
            for event in ("hop", "reversal"):
                n = events(ctx.scene, oid, event, frames, media, ctx.thresholds)
                if n is None or (event == "hop" and n == 0):
                    continue
                out.append({"objects": [oid], "label": f"n:{n}", "key": f"{event}:{n}", "option_keys": [],
                            "meta": {"motion": "repeated", "event": event, "style": f"counting_{event}"}})
                break
        return out

    def render(self, cand, fmt, choice, rng, env):
        """The options: a window of 4 consecutive counts holding the answer at a rank drawn from
        `rank_weights` of the split's answers (keys "<motion or event>:<n>" in env.pool)."""
        counts: dict[int, int] = {}
        for key, c in env.pool.items():
            if ":" in key and key.rsplit(":", 1)[1].isdigit():
                k = int(key.rsplit(":", 1)[1])
                counts[k] = counts.get(k, 0) + int(c)
        n = int(cand["label"][2:])
        counts.setdefault(n, 1)
        keep = zero_keep(counts)
        if n == 0 and keep < 1.0 and float(rng.random()) >= keep:
            raise Skip("count 0 beyond a quarter of the task's answers")
        if keep < 1.0:
            counts[0] = keep * counts[0]
        w = rank_weights(counts)[n]
        rank = int(rng.choice(N_OPTIONS, p=w))
        keys = [f"n:{k}" for k in window(n, rank) if k != n]
        return super().render({**cand, "option_keys": keys}, fmt, choice, rng, env)

    def truth(self, scene, record, frames, th):
        meta = record["meta"]
        if meta["motion"] == "repeated":
            n = events(scene, meta["objects"][0], meta["event"], frames, record["frame_indices"], th)
            return None if n is None else f"n:{n}"
        n = count(scene, meta["motion"], frames, record["frame_indices"], th)
        return None if n is None else f"n:{n}"

    def wrong(self, scene, record, key, true, frames, th):
        return key != true and key.startswith("n:")


