"""Correspondence kind: a point marked in image 1 -> where the same scene point is in image 2.

A subclass proposes items (`items`: a pair of scene frames and a point in the first, as JSON) and
locates the point in the second image from the scene (`locate`, e.g. by depth and cameras, or a
point track); the kind answers as a coordinate ("coord": `[x, y]` in `space`, full image =
`scale`) or as a multiple choice ("mc": `n_options` candidate points, the true one and distractors
at least `min_separation` x scale from it and from each other). Every referenced point is listed in
`meta.points` as {"image": k, "x", "y", "label"} in the answer's space, so a family can draw them.
The audit locates the point again and checks the answer (coord: within half a unit; mc: the letter
whose point is the true location).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.engine.kinds.base import LETTERS, RenderEnv, SceneContext, Skip, Task, _fill, _jsonable, _pick, _templates
from qa4d.engine.kinds.numeric import format_value, round_value


class CorrespondenceTask(Task):
    kind = "correspondence"
    space = "per_mille"
    scale = 1000.0
    decimals = 0
    n_options = 4
    min_separation = 0.1            # mc: distractors this far (x scale) from the answer and each other
    balance_mode = "none"
    train_formats = ("coord", "mc")
    bench_formats = ("coord", "mc")

    # -- hooks -----------------------------------------------------------------------------
    def items(self, ctx: SceneContext, seg: tuple[int, int], rng: np.random.Generator) -> list[dict[str, Any]]:
        """[{"frames": [t1, t2], "point": [x, y] (in `space`, image 1), ...}] for a segment."""
        raise NotImplementedError

    def locate(self, scene: Any, item: dict[str, Any], thresholds: Any) -> list[float] | None:
        """[x, y] (in `space`) of item["point"] of image 1 in image 2, or None when it is not seen there."""
        raise NotImplementedError

    def slots(self, cand: dict[str, Any], rng: np.random.Generator, env: RenderEnv) -> dict[str, str]:
        """Question slots; by default {point}: the point of image 1 as text."""
        return {"point": format_value(cand["item"]["point"])}

    # -- phase 1 -----------------------------------------------------------------------------
    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        for seg in ctx.segments(self.name):
            rng = ctx.rng(self.name, seg[0])
            for n, item in enumerate(self.items(ctx, seg, rng)):
                target = self.locate(ctx.scene, item, ctx.thresholds)
                if target is None:
                    ctx.skip(self.name, "point not seen in image 2")
                    continue
                value = round_value(target, self.decimals)
                out.append(self.new_candidate(
                    ctx, seg, n, frames=item["frames"], item=_jsonable(item), objects=[], value=value,
                    measurement=_jsonable(target), key="point", formats=["coord", "mc"],
                ))
        return out

    # -- phase 2 -----------------------------------------------------------------------------
    def distractors(self, true: list[float], k: int, rng: np.random.Generator) -> list[list[float]]:
        """k points in the image, at least min_separation x scale from `true` and from each other."""
        sep = self.min_separation * self.scale
        out: list[list[float]] = []
        for _ in range(200):
            if len(out) == k:
                break
            p = round_value(rng.uniform(0.05, 0.95, 2) * self.scale, self.decimals)
            if all(np.hypot(p[0] - q[0], p[1] - q[1]) >= sep for q in [true, *out]):
                out.append(p)
        if len(out) < k:
            raise Skip("no room for distractor points")
        return out

    def render(self, cand, fmt, choice, rng, env):
        t = _templates(self)
        slots = self.slots(cand, rng, env)
        value = cand["value"]
        meta: dict[str, Any] = {"objects": [], "measurement": cand["measurement"], "item": cand["item"],
                                "segment": cand["segment"], "space": self.space, "scale": float(self.scale),
                                "media_kind": "images",
                                "points": [{"image": 0, "x": cand["item"]["point"][0], "y": cand["item"]["point"][1],
                                            "label": "query"}]}
        question = _fill(_pick(rng, t.questions[fmt], f"{self.name} {fmt}"), **slots)
        options = None
        if fmt == "coord":
            meta["value"] = value
            answer = _fill(_pick(rng, t.answers["coord"], f"{self.name} coord answer"), answer=format_value(value), **slots)
            meta["points"].append({"image": 1, "x": value[0], "y": value[1], "label": "answer"})
        elif fmt == "mc":
            n = self.options_count(env.config)
            points = self.distractors(value, n - 1, rng)
            points.insert(int(choice), value)
            options = {LETTERS[i]: format_value(p) for i, p in enumerate(points)}
            meta["points"] += [{"image": 1, "x": p[0], "y": p[1], "label": LETTERS[i]} for i, p in enumerate(points)]
            answer = LETTERS[int(choice)]
        else:
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        return {"question": question, "options": options, "answer": answer, "meta": meta}

    # -- audit -------------------------------------------------------------------------------
    def recompute(self, record, scene, thresholds):
        target = self.locate(scene, record["meta"]["item"], thresholds)
        return {"value": None if target is None else round_value(target, self.decimals), "measurement": _jsonable(target)}

    def check(self, record, scene, thresholds):
        got = self.recompute(record, scene, thresholds)
        if got["value"] is None:
            return ["point is no longer seen in image 2"]
        true = np.asarray(got["measurement"], float)
        tol = 0.5 * 10.0 ** -self.decimals + 1e-9
        meta = record["meta"]
        if record["answer_format"] == "coord":
            if np.abs(np.asarray(meta["value"], float) - true).max() > tol:
                return [f"meta.value is {meta['value']!r}, geometry gives {got['measurement']!r}"]
            return []
        pts = {p["label"]: np.array([p["x"], p["y"]], float) for p in meta["points"] if p["image"] == 1}
        right = [k for k, p in pts.items() if np.abs(p - true).max() <= tol]
        if right != [record["answer"]]:
            return [f"answer {record['answer']!r}, but the option(s) at the true point are {right}"]
        return []
