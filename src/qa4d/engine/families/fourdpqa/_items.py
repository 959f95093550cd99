"""Item sampling shared by the comparison tasks (depth, distances, moved distance)."""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.sampling import choose

MAX_ITEMS = 4  # a multiple-choice question offers four items


def same_frame_items(ctx, seg, rng: np.random.Generator, anchored: bool) -> list[list[dict[str, Any]]]:
    """Item sets at one media frame: objects seen in that frame (plus a reference object, seen too)."""
    media = ctx.media(seg)
    out = []
    need = 3 if anchored else 2
    for _ in range(ctx.config.samples_per_segment):
        k = int(rng.integers(len(media)))
        seen = [oid for oid in (o.id for o in ctx.scene.objects) if ctx.seen_at(oid, media[k])]
        if len(seen) < need:
            continue
        picked = choose(rng, seen, MAX_ITEMS + (1 if anchored else 0))
        anchor = picked[0] if anchored else None
        rest = picked[1:] if anchored else picked
        out.append([{"object": int(o), "frame": k, "ref_object": anchor} for o in rest])
    return _dedupe(out)


def multiview_items(ctx, seg, rng: np.random.Generator, anchored: bool) -> list[list[dict[str, Any]]]:
    """Item sets of (object, media frame) pairs at distinct frames; with `anchored`, one reference
    object seen in every item's frame, never itself an item."""
    media = ctx.media(seg)
    out = []
    ids = [o.id for o in ctx.scene.objects]
    for _ in range(ctx.config.samples_per_segment):
        anchor = int(ids[int(rng.integers(len(ids)))]) if anchored and ids else None
        frames = [int(p) for p in rng.permutation(len(media))]
        items = []
        for p in frames:
            if anchor is not None and not ctx.seen_at(anchor, media[p]):
                continue
            seen = [oid for oid in ids if oid != anchor and ctx.seen_at(oid, media[p])]
            if not seen:
                continue
            items.append({"object": int(seen[int(rng.integers(len(seen)))]), "frame": p, "ref_object": anchor})
            if len(items) == MAX_ITEMS:
                break
        if len(items) >= 2:
            out.append(items)
    return _dedupe(out)


def _dedupe(sets: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    seen, out = set(), []
    for items in sets:
        key = tuple(sorted((it["object"], it["frame"] if it["frame"] is not None else -1) for it in items))
        key = (items[0].get("ref_object"),) + key
        if key not in seen:
            seen.add(key)
            out.append(items)
    return out
