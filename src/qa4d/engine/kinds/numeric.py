"""Numeric kind: the answer is a number, a vector or an image point with its unit, no options.

A subclass names what is asked about (`items`: one dict of JSON fields per question, e.g. an
object id and two image positions) and how to measure it from the scene (`value`); the kind rounds
the value, words the question from the family's templates (`questions.<fmt>`, `answers.<fmt>` with
the {answer} slot) and writes the machine-readable answer to `meta.value`, with `meta.unit`
(number, scalar, vector) or `meta.space` and `meta.scale` (coord), as the record schema requires.
The audit measures again from the scene and compares within half a unit of the last digit kept.

Answer formats (`answer_format`): "scalar" (one number, scored within 20% relative error under the
MultiSPA metric), "number" (one number, mean relative accuracy), "vector" ([x, y, z]) and "coord"
([x, y] in `space`, whose full image width/height is `scale`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from qa4d.answers import find_format, formats, get_format
from qa4d.engine.kinds.base import RenderEnv, SceneContext, Skip, Task, _fill, _jsonable, _pick, _templates

NUMERIC_FORMATS = tuple(f.name for f in formats() if f.numeric)  # answered by meta.value (qa4d.answers)


def round_value(value: float | Sequence[float], decimals: int) -> float | int | list:
    """Round a value (or each component) to `decimals` (0: integers). Non-finite -> ValueError."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return [round_value(v, decimals) for v in value]  # type: ignore[misc]
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"non-finite value {value!r}")
    return int(round(v)) if decimals == 0 else round(v, decimals)


def format_value(value: Any) -> str:
    """Canonical answer text of a rounded value: `1250`, `0.25`, `[12, -3, 40]`."""
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


class NumericTask(Task):
    """A question answered by a measured quantity (depth in mm, a displacement vector, a point)."""

    kind = "numeric"
    answer_format = "scalar"          # one of NUMERIC_FORMATS
    unit = "mm"                       # number, scalar, vector
    space = "per_mille"               # coord: coordinate space of meta.value ...
    scale = 1000.0                    # ... and the value of the full image width / height in it
    decimals = 0                      # rounding of the answer (0: whole units)
    balance_mode = "none"
    train_formats = ("scalar",)
    bench_formats = ("scalar",)

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        fmt = find_format(cls.answer_format)
        if fmt is None or not fmt.numeric:
            numeric = [f.name for f in formats() if f.numeric]
            raise TypeError(f"{cls.__name__}: answer_format must be one of {tuple(numeric)}")
        if "train_formats" not in cls.__dict__:
            cls.train_formats = (cls.answer_format,)
        if "bench_formats" not in cls.__dict__:
            cls.bench_formats = (cls.answer_format,)

    # -- hooks -----------------------------------------------------------------------------
    def items(self, ctx: SceneContext, seg: tuple[int, int], rng: np.random.Generator) -> list[dict[str, Any]]:
        """What to ask about in a segment: JSON dicts stored in the candidate and in meta.item
        (object ids, media positions, points ...); `value` must work from them and the scene."""
        raise NotImplementedError

    def value(self, scene: Any, item: dict[str, Any], media: Sequence[int], thresholds: Any) -> Any:
        """The exact quantity (float, or a list of floats) in the answer's unit, or None when it
        cannot be measured (the item is then skipped)."""
        raise NotImplementedError

    def frames_for(self, ctx: SceneContext, seg: tuple[int, int], item: dict[str, Any],
                   rng: np.random.Generator) -> list[int] | None:
        """Scene frames shown for an item (default: the segment's uniform media frames; image-set
        tasks search them). None: no frames fit, the item is skipped."""
        return ctx.media(seg)

    def slots(self, cand: dict[str, Any], rng: np.random.Generator, env: RenderEnv) -> dict[str, str]:
        """Slots of the question templates (default: none)."""
        return {}

    def objects(self, item: dict[str, Any]) -> list[int]:
        """Object ids the question refers to (meta.objects)."""
        return [int(o) for o in item.get("objects", [])]

    # -- phase 1 -----------------------------------------------------------------------------
    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        for seg in ctx.segments(self.name):
            out.extend(self.segment_candidates(ctx, seg, ctx.rng(self.name, seg[0])))
        return out

    skip_no_frames = "no image set satisfies the question"   # skip reasons (dataset.json)
    skip_no_value = "value not measurable"

    def segment_candidates(self, ctx: SceneContext, seg: tuple[int, int],
                           rng: np.random.Generator) -> list[dict[str, Any]]:
        """One candidate per item of `seg` whose frames and value can be had."""
        out = []
        for n, item in enumerate(self.items(ctx, seg, rng)):
            media = self.frames_for(ctx, seg, item, rng)
            if media is None:
                ctx.skip(self.name, self.skip_no_frames)
                continue
            raw = self.value(ctx.scene, item, media, ctx.thresholds)
            if raw is None:
                ctx.skip(self.name, self.skip_no_value)
                continue
            try:
                value = round_value(raw, self.decimals)
            except ValueError:
                ctx.skip(self.name, "value not finite")
                continue
            out.append(self.new_candidate(
                ctx, seg, n, frames=media, item=_jsonable(item), objects=self.objects(item), value=value,
                measurement=_jsonable(raw), key=self.answer_format, formats=[self.answer_format],
            ))
        return out

    # -- phase 2 -----------------------------------------------------------------------------
    def value_meta(self) -> dict[str, Any]:
        if get_format(self.answer_format).has_coords:  # a point: its coordinate space
            return {"space": self.space, "scale": float(self.scale)}
        return {"unit": self.unit}

    def render(self, cand, fmt, choice, rng, env):
        if fmt != self.answer_format:
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        t = _templates(self)
        slots = self.slots(cand, rng, env)
        text = format_value(cand["value"])
        question = _fill(_pick(rng, t.questions[fmt], f"{self.name} {fmt}"), **slots)
        answer = _fill(_pick(rng, t.answers[fmt], f"{self.name} {fmt} answer"), answer=text, **slots)
        meta = {"objects": list(cand["objects"]), "measurement": cand["measurement"], "value": cand["value"],
                **self.value_meta(), "item": cand["item"], "segment": cand["segment"]}
        return {"question": question, "options": None, "answer": answer, "meta": meta}

    # -- audit -------------------------------------------------------------------------------
    def recompute(self, record, scene, thresholds):
        raw = self.value(scene, record["meta"]["item"], record["frame_indices"], thresholds)
        return {"value": None if raw is None else round_value(raw, self.decimals), "measurement": _jsonable(raw)}

    def check(self, record, scene, thresholds):
        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        if got["value"] is None:
            return ["value is no longer measurable"]
        want, have = np.atleast_1d(np.asarray(got["measurement"], float)), np.atleast_1d(np.asarray(meta["value"], float))
        tol = 0.5 * 10.0 ** -self.decimals + 1e-9
        problems = []
        if want.shape != have.shape or np.abs(want - have).max() > tol:
            problems.append(f"meta.value is {meta['value']!r}, geometry gives {got['measurement']!r}")
        if format_value(meta["value"]) not in record["answer"]:
            problems.append(f"answer {record['answer']!r} does not state {format_value(meta['value'])}")
        for k, v in self.value_meta().items():
            if meta.get(k) != v:
                problems.append(f"meta.{k} is {meta.get(k)!r}, expected {v!r}")
        return problems


__all__ = ["NUMERIC_FORMATS", "NumericTask", "Skip", "format_value", "round_value"]
