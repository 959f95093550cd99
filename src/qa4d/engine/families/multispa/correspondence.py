"""Visual correspondence on an overlap-balanced image pair ([MS] sec. 3.1, 3.2.1, Fig. 7;
seed-specs §1.6): a static point of Image-1 (0-999 coordinates, or circled) and where the same
scene point appears in Image-2: as coordinates (`correspondence_coord`) or as one of four circled
candidates A-D (`correspondence_mcq`; distractors at least 10% of the image apart, qa4d's
`CorrespondenceTask`, where [MS-code] draws them uniformly at random).

The query pixel is a static pixel of Image-1 off depth edges; its depth-map point is projected
into Image-2 and must be visible there ([MS] Eq. 3 with `visibility_tolerance_m`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.draw import COLOUR_NAMES
from qa4d.engine.families.multispa._common import REQUIRES, balanced_pairs, overlap_ok
from qa4d.engine.families.multispa.depth import map_cell, query_pixel_mask
from qa4d.engine.kinds.base import LETTERS
from qa4d.engine.kinds.correspondence import CorrespondenceTask
from qa4d.engine.registry import register_task
from qa4d.geometry.camera import project_world, unproject_to_world
from qa4d.geometry.pixels import normalise_pixels, pixels_from_normalised
from qa4d.geometry.visibility import depth_at

TRIES = 40


def locate_point(scene: Any, frames: list[int], q: list[int], th: Any) -> list[float] | None:
    """0-999 position in image 2 of the scene point at 0-999 point q of image 1, or None when it is
    not visible in image 2 (outside, behind the camera, or occluded)."""
    a, b = int(frames[0]), int(frames[1])
    W, H = scene.meta.width, scene.meta.height
    r, c = map_cell(scene, q)
    d = float(scene.depth[a][r, c])
    if not (np.isfinite(d) and d > 0):
        return None
    uv1 = pixels_from_normalised(np.asarray(q, float), W, H)
    p = unproject_to_world(uv1, d, scene.intrinsics[a], scene.cam_to_world[a])
    uv2, z = project_world(p, scene.intrinsics[b], scene.cam_to_world[b])
    d2 = float(depth_at(scene.depth[b], uv2, W, H))
    if not (z > 0 and np.isfinite(d2) and d2 > 0 and z < d2 + float(th.visibility_tolerance_m)):
        return None
    return [float(v) for v in normalise_pixels(uv2, W, H)]


class _Correspondence(CorrespondenceTask):
    family = "multispa"
    requires = REQUIRES

    def candidates(self, ctx):
        seg = (0, ctx.scene.num_frames)
        rng = ctx.rng(self.name, 0)
        scene, th = ctx.scene, ctx.thresholds
        W, H = scene.meta.width, scene.meta.height
        out = []
        for n, pair in enumerate(balanced_pairs(ctx, self.name)):
            ok = query_pixel_mask(scene, pair[0], th, static_only=True)
            rows, cols = np.nonzero(ok)
            found = None
            for k in rng.permutation(len(rows))[:TRIES]:
                u, v = (cols[k] + 0.5) * W / ok.shape[1], (rows[k] + 0.5) * H / ok.shape[0]
                q = [int(x) for x in normalise_pixels(np.array([u, v]), W, H)]
                if not ok[map_cell(scene, q)]:
                    continue
                target = locate_point(scene, pair, q, th)
                if target is not None:
                    found = (q, target)
                    break
            if found is None:
                ctx.skip(self.name, "no static point of image 1 is seen in image 2")
                continue
            item = {"frames": pair, "point": found[0]}
            if self.dot:
                cols_ = rng.permutation(len(COLOUR_NAMES))[:1 + self.n_options]
                item["colours"] = [str(COLOUR_NAMES[int(i)]) for i in cols_]
            out.append(self.new_candidate(ctx, seg, n, frames=pair, item=item, objects=[], value=[int(v) for v in found[1]],
                                          measurement=found[1], key="point", formats=list(self.train_formats)))
        return out

    def locate(self, scene, item, thresholds):
        return locate_point(scene, item["frames"], item["point"], thresholds)

    def check(self, record, scene, thresholds):
        problems = super().check(record, scene, thresholds)
        if not overlap_ok(scene, record["frame_indices"], thresholds):
            problems.append(f"pair {record['frame_indices']} has overlap outside the kept range")
        return problems


@register_task
class CorrespondenceCoord(_Correspondence):
    name, category, dot = "correspondence_coord", "vc_coordinate", False
    train_formats = bench_formats = ("coord",)


@register_task
class CorrespondenceMCQ(_Correspondence):
    """The query point is circled in Image-1, the four candidates are circled in Image-2 in other
    colours; options name the colours ("the green circle"), the answer is the letter."""

    name, category, dot = "correspondence_mcq", "vc_mcq", True
    train_formats = bench_formats = ("mc",)

    def slots(self, cand, rng, env):
        return {"dot": cand["item"]["colours"][0]}

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        W, H = env.scene_meta.width, env.scene_meta.height
        r = max(2.0, 0.04 * min(W, H))
        cols = cand["item"]["colours"]
        refs, options = [], {}
        for p in out["meta"]["points"]:
            u, v = pixels_from_normalised(np.array([p["x"], p["y"]], float), W, H)
            if p["image"] == 0:
                colour = cols[0]
            else:
                colour = cols[1 + LETTERS.index(p["label"])]
                options[p["label"]] = f"the {colour} circle"
            p["colour"] = colour
            ref = {"mode": "prompt", "media": int(p["image"]), "cx": float(u), "cy": float(v), "r": r, "colour": colour}
            if p["image"] != 0:
                ref["text"] = p["label"]  # the candidate's option letter beside its dot, as in MultiSPA
            refs.append(ref)
        out["options"] = options
        out["meta"]["refs"] = refs
        out["meta"]["value"] = out["answer"]
        return out
