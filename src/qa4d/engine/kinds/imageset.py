"""Image-set kind: the images shown are a set of scene frames chosen by a search, not a video.

MultiSPA-style questions show a few images ("Image-1", "Image-2") picked from a scene so that a
predicate holds (e.g. two images that together, but neither alone, cover an object). `image_sets`
is the search; `ImageSetTask` is a numeric task whose frames come from it: a subclass gives the
frame pool (`frame_pool`, default every frame of the segment), the set size and the predicate
(`set_ok`). The chosen frames are the record's `frame_indices` (image k = scene frame
frame_indices[k]) and `meta.media_kind` is "images"; the audit checks the predicate again.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import numpy as np

from qa4d.engine.kinds.base import SceneContext
from qa4d.engine.kinds.numeric import NumericTask


def image_sets(
    frames: Sequence[int],
    size: int,
    ok: Callable[[tuple[int, ...]], bool],
    rng: np.random.Generator,
    limit: int = 1,
    max_tries: int = 2000,
) -> list[tuple[int, ...]]:
    """Up to `limit` sets of `size` distinct frames (each in increasing order) for which `ok`
    holds, tried in a random order drawn from `rng` (at most `max_tries` sets are tested)."""
    combos = list(itertools.combinations(sorted(set(int(f) for f in frames)), size))
    out: list[tuple[int, ...]] = []
    for i in rng.permutation(len(combos))[:max_tries] if combos else []:
        s = combos[int(i)]
        if ok(s):
            out.append(s)
            if len(out) >= limit:
                break
    return out


class ImageSetTask(NumericTask):
    """A numeric question about a set of images found by `image_sets`."""

    kind = "imageset"
    set_size = 2

    def frame_pool(self, ctx: SceneContext, seg: tuple[int, int]) -> list[int]:
        """Frames the sets are drawn from (default: every frame of the segment)."""
        return list(range(seg[0], seg[1]))

    def set_ok(self, scene: Any, item: dict[str, Any], frames: tuple[int, ...], thresholds: Any) -> bool:
        """The predicate an image set must satisfy for `item`."""
        raise NotImplementedError

    def frames_for(self, ctx, seg, item, rng):
        found = image_sets(self.frame_pool(ctx, seg), self.set_size,
                           lambda s: self.set_ok(ctx.scene, item, s, ctx.thresholds), rng)
        return list(found[0]) if found else None

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        out["meta"]["media_kind"] = "images"
        return out

    def check(self, record, scene, thresholds):
        problems = super().check(record, scene, thresholds)
        if not self.set_ok(scene, record["meta"]["item"], tuple(record["frame_indices"]), thresholds):
            problems.append(f"image set {record['frame_indices']} does not satisfy the task's predicate")
        return problems
