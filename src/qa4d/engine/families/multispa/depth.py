"""Depth perception on one image ([MS] sec. 3.1, 3.2.1, Fig. 6; seed-specs §1.5).

Estimation: the depth (camera-frame z, integer mm) of a point given as 0-999 coordinates or
circled in the image. Comparison: which of two static points is closer to / farther from the
camera (two options, A and B). The point a 0-999 coordinate stands for is the pixel whose cell it
names (`qa4d.geometry.pixels.pixels_from_normalised`); its depth is the depth map's value there.
Query pixels avoid the border and depth edges (threshold `depth_edge_rel`), so the question does
not hang on a pixel's worth of position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.draw import COLOUR_NAMES
from qa4d.engine.families.multispa._common import REQUIRES, SceneItemsMixin, static_owner_ids
from qa4d.engine.kinds.base import LETTERS, Task, _fill, _pick, _templates
from qa4d.engine.kinds.numeric import NumericTask, format_value
from qa4d.engine.registry import register_task
from qa4d.geometry.pixels import normalise_pixels, pixels_from_normalised


def query_pixel_mask(scene: Any, t: int, th: Any, static_only: bool) -> np.ndarray:
    """(H, W) bool: pixels fit to be asked about in frame t: valid depth, inside the margin, the
    3x3 neighbours on the same mask id with depths within `depth_edge_rel` (and, for
    `static_only`, on a static surface)."""
    d = np.asarray(scene.depth[t], dtype=np.float64)
    H, W = d.shape
    ok = np.isfinite(d) & (d > 0)
    mask = scene.instance_mask[t] if scene.has("instance_mask") else np.zeros(d.shape, np.int32)
    if static_only:
        ok &= np.isin(mask, sorted(static_owner_ids(scene, th)))
    pad_d = np.pad(np.where(ok, d, np.nan), 1, constant_values=np.nan)
    pad_m = np.pad(mask, 1, constant_values=-1)
    rel = float(th.depth_edge_rel)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            nd = pad_d[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
            nm = pad_m[1 + dy:1 + dy + H, 1 + dx:1 + dx + W]
            with np.errstate(invalid="ignore"):
                ok &= (nm == mask) & (np.abs(nd - d) <= rel * d)
    m = int(round(float(th.depth_margin_frac) * min(H, W)))
    if m > 0:
        ok[:m, :] = ok[-m:, :] = False
        ok[:, :m] = ok[:, -m:] = False
    return ok


def pick_points(scene: Any, t: int, th: Any, rng: np.random.Generator, n: int, static_only: bool) -> list[list[int]] | None:
    """n distinct 0-999 points [x, y] of frame t whose pixels pass `query_pixel_mask`, or None."""
    ok = query_pixel_mask(scene, t, th, static_only)
    W, H = scene.meta.width, scene.meta.height
    rows, cols = np.nonzero(ok)
    if len(rows) < n:
        return None
    out: list[list[int]] = []
    for k in rng.permutation(len(rows))[: 20 * n]:
        # image pixel of this depth-map cell (same size in the simulator; rescaled otherwise)
        u = (cols[k] + 0.5) * W / ok.shape[1]
        v = (rows[k] + 0.5) * H / ok.shape[0]
        q = [int(c) for c in normalise_pixels(np.array([u, v]), W, H)]
        r, c = map_cell(scene, q)
        if ok[r, c] and q not in out:
            out.append(q)
        if len(out) == n:
            return out
    return None


def map_cell(scene: Any, q: list[int]) -> tuple[int, int]:
    """(row, col) of the depth-map cell a 0-999 point names."""
    W, H = scene.meta.width, scene.meta.height
    hd, wd = np.shape(scene.depth)[1:]
    u, v = pixels_from_normalised(np.asarray(q, float), W, H)
    return min(int(v * hd / H), hd - 1), min(int(u * wd / W), wd - 1)


def depth_m(scene: Any, t: int, q: list[int]) -> float:
    """Depth-map value (camera z, metres) at the cell 0-999 point q names in frame t."""
    r, c = map_cell(scene, q)
    return float(scene.depth[t][r, c])


def circle(scene: Any, q: list[int], colour: str, th: Any) -> dict[str, Any]:
    """A visual prompt (meta.refs entry) circling point q on image 0."""
    u, v = pixels_from_normalised(np.asarray(q, float), scene.meta.width, scene.meta.height)
    r = max(2.0, float(th.dot_radius_frac) * min(scene.meta.width, scene.meta.height))
    return {"mode": "prompt", "media": 0, "cx": float(u), "cy": float(v), "r": r, "colour": colour}


class _Estimation(SceneItemsMixin, NumericTask):
    family = "multispa"
    category = "depth_value"
    answer_format = "scalar"
    unit = "mm"
    dot = False

    def items(self, ctx, seg, rng):
        th, T = ctx.thresholds, ctx.scene.num_frames
        out = []
        for t in sorted(rng.choice(T, size=min(T, int(th.depth_points_per_scene)), replace=False)):
            pts = pick_points(ctx.scene, int(t), th, rng, 1, static_only=False)
            if pts is None:
                ctx.skip(self.name, "no query pixel off depth edges")
                continue
            item: dict[str, Any] = {"frames": [int(t)], "point": pts[0]}
            if self.dot:
                item["colour"] = str(COLOUR_NAMES[int(rng.integers(len(COLOUR_NAMES)))])
                item["circle"] = circle(ctx.scene, pts[0], item["colour"], th)
            out.append(item)
        return out

    def value(self, scene, item, media, thresholds):
        d = depth_m(scene, int(media[0]), item["point"])
        return 1000.0 * d if np.isfinite(d) and d > 0 else None

    def slots(self, cand, rng, env):
        it = cand["item"]
        return {"dot": it["colour"]} if self.dot else {"point": format_value(it["point"])}

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        it = cand["item"]
        out["meta"]["points"] = [{"image": 0, "x": it["point"][0], "y": it["point"][1], "label": it.get("colour", "query")}]
        if self.dot:
            out["meta"]["refs"] = [it["circle"]]
        return out


@register_task
class DepthEstimationDot(_Estimation):
    name, dot = "depth_estimation_dot", True


@register_task
class DepthEstimationCoord(_Estimation):
    name, dot = "depth_estimation_coord", False


class _Comparison(Task):
    """Which of two static points of one image is closer (farther): two options A and B."""

    family = "multispa"
    category = "depth_comparison"
    kind = "depth_comparison"
    requires = REQUIRES
    n_options = 2
    train_formats = ("mc",)
    bench_formats = ("mc",)
    balance_mode = "equal"          # over the polarity (closer / farther)
    dot = False

    def candidates(self, ctx):
        th, scene, T = ctx.thresholds, ctx.scene, ctx.scene.num_frames
        seg = (0, T)
        rng = ctx.rng(self.name, 0)
        out = []
        for n, t in enumerate(sorted(rng.choice(T, size=min(T, int(th.depth_points_per_scene)), replace=False))):
            pts = pick_points(scene, int(t), th, rng, 2, static_only=True)
            if pts is None:
                ctx.skip(self.name, "no two static query pixels off depth edges")
                continue
            depths = [depth_m(scene, int(t), q) for q in pts]
            polarity = "closer" if rng.random() < 0.5 else "farther"
            win = self.winner(depths, polarity, th)
            if win is None:
                ctx.skip(self.name, "depths too close to call")
                continue
            item: dict[str, Any] = {"frames": [int(t)], "points": pts, "polarity": polarity, "winner": win}
            if self.dot:
                cols = rng.choice(len(COLOUR_NAMES), size=2, replace=False)
                item["colours"] = [str(COLOUR_NAMES[int(c)]) for c in cols]
                item["circles"] = [circle(scene, q, c, th) for q, c in zip(pts, item["colours"])]
            out.append(self.new_candidate(ctx, seg, n, frames=[int(t)], item=item, key=polarity,
                                          measurement=[1000.0 * d for d in depths], formats=["mc"]))
        return out

    @staticmethod
    def winner(depths: list[float], polarity: str, th: Any) -> int | None:
        """Index of the closer (farther) point, or None when the two depths are within
        `depth_compare_rel` of the larger one or round to the same millimetre."""
        a, b = depths
        if round(1000 * a) == round(1000 * b) or abs(a - b) < float(th.depth_compare_rel) * max(a, b):
            return None
        closer = 0 if a < b else 1
        return closer if polarity == "closer" else 1 - closer

    def option_text(self, item: dict[str, Any], i: int) -> str:
        return f"the {item['colours'][i]} circle" if self.dot else format_value(item["points"][i])

    def render(self, cand, fmt, choice, rng, env):
        if fmt != "mc":
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        it = cand["item"]
        win = int(it["winner"])
        order = [win, 1 - win] if int(choice) == 0 else [1 - win, win]
        options = {LETTERS[k]: self.option_text(it, i) for k, i in enumerate(order)}
        t = _templates(self)
        slots = {"label": it["polarity"]}
        if self.dot:
            slots.update(dot1=it["colours"][order[0]], dot2=it["colours"][order[1]])
        else:
            slots.update(point1=options["A"], point2=options["B"])
        question = _fill(_pick(rng, t.questions["mc"], f"{self.name} mc"), **slots)
        answer = LETTERS[int(choice)]
        meta: dict[str, Any] = {
            "objects": [], "measurement": cand["measurement"], "item": it, "segment": cand["segment"],
            "value": answer, "polarity": it["polarity"], "media_kind": "images",
            "points": [{"image": 0, "x": it["points"][i][0], "y": it["points"][i][1], "label": LETTERS[k]}
                       for k, i in enumerate(order)],
        }
        if self.dot:
            # each dot carries its option letter beside it, as in MultiSPA's images
            meta["refs"] = [{**it["circles"][i], "text": LETTERS[k]} for k, i in enumerate(order)]
        return {"question": question, "options": options, "answer": answer, "meta": meta}

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        t = int(record["frame_indices"][0])
        depths = {p["label"]: depth_m(scene, t, [p["x"], p["y"]]) for p in meta["points"]}
        labels = sorted(depths)
        w = self.winner([depths[k] for k in labels], meta["polarity"], thresholds)
        return {"value": None if w is None else labels[w], "measurement": depths}

    def check(self, record, scene, thresholds):
        got = self.recompute(record, scene, thresholds)
        meta = record["meta"]
        if got["value"] is None:
            return ["depths are now too close to call"]
        problems = []
        if record["answer"] != got["value"] or meta.get("value") != got["value"]:
            problems.append(f"answer {record['answer']!r}, geometry gives {got['value']!r} ({meta['polarity']})")
        if not self.dot:
            for p in meta["points"]:
                if record["options"].get(p["label"]) != format_value([p["x"], p["y"]]):
                    problems.append(f"option {p['label']} does not state point {[p['x'], p['y']]}")
        statics = static_owner_ids(scene, thresholds)
        if scene.has("instance_mask"):
            t = int(record["frame_indices"][0])
            for p in meta["points"]:
                r, c = map_cell(scene, [p["x"], p["y"]])
                if int(scene.instance_mask[t][r, c]) not in statics:
                    problems.append(f"point {p['label']} is not on a static surface")
        return problems


@register_task
class DepthComparisonDot(_Comparison):
    name, dot = "depth_comparison_dot", True


@register_task
class DepthComparisonCoord(_Comparison):
    name, dot = "depth_comparison_coord", False
