"""Shared machinery of the STI family: 5-option multiple choice built from an exact value.

A task names what it asks about (`items`: object ids and the scene frames whose times the
question states) and measures it from the scene (`measure`: a number in the item's unit, a
relation label, or a 3D box). The options are made in phase 2 around the exact value: numbers
are an evenly spaced ladder whose step exceeds the quantity's tolerance (thresholds
`tolerance`), sorted ascending with the answer at the position the engine deals (so neither the
letter nor the rank of the answer carries information). The audit measures again and checks that
the answer option states the value and that no other option is within tolerance of it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa4d.engine.kinds.base import LETTERS, RenderEnv, SceneContext, Skip, Task, _fill, _jsonable, _pick, _templates, refer_all
from qa4d.engine.references import frame_phrase, phrase
from qa4d.engine.sampling import distinct_tuples


@lru_cache(maxsize=1)
def vocab() -> dict[str, Any]:
    """The family's phrases (vocab.json)."""
    return json.loads((Path(__file__).parent / "vocab.json").read_text(encoding="utf-8"))


def fmt_seconds(t: float) -> str:
    return f"{t:.2f}"


def fmt_number(v: float, decimals: int) -> str:
    return f"{v:.{decimals}f}"


UNIT_PER_SI = {"cm": 100.0, "m": 1.0, "m/s": 1.0, "m/s²": 1.0}


def tolerance(th: Any, quantity: str, value: float, unit: str) -> float:
    """Half-width (in `unit`) within which an answer to `quantity` counts as right:
    max(tolerance_rel[quantity] |value|, tolerance_abs_si[quantity] converted to `unit`)."""
    rel = float(th.tolerance_rel[quantity])
    floor = float(th.tolerance_abs_si[quantity]) * UNIT_PER_SI[unit]
    return max(rel * abs(float(value)), floor)


class STITask(Task):
    """A 5-option question about objects over stated times of a segment."""

    family = "sti"
    kind = "sti_mc"
    n_options = 5
    n_objects = 1
    train_formats = ("mc",)
    bench_formats = ("mc",)
    balance_mode = "cap"

    # -- hooks -----------------------------------------------------------------------------
    def pools(self, ctx: SceneContext, seg: tuple[int, int]) -> list[list[int]]:
        """Candidate object ids per object slot (default: objects visible in the segment)."""
        return [ctx.visible_ids(seg)] * self.n_objects

    def times(self, ctx: SceneContext, seg: tuple[int, int], rng: np.random.Generator) -> list[int] | None:
        """Scene frames whose times the question states (default: none; None: the segment cannot)."""
        return []

    def measure(self, scene: Any, item: dict[str, Any], th: Any) -> Any:
        """The exact answer from the scene alone, or None when it is ill-defined (dropped)."""
        raise NotImplementedError

    def measurement(self, scene: Any, item: dict[str, Any], value: Any) -> Any:
        """The continuous measurement behind the answer (meta.measurement; default: the value)."""
        return value

    def extra_item(self, ctx: SceneContext, seg: tuple[int, int], objs: tuple[int, ...],
                   rng: np.random.Generator) -> dict[str, Any]:
        """Further item fields (the quantity asked, a shorter object list ...)."""
        return {}

    def key_of(self, item: dict[str, Any], value: Any) -> str:
        return self.name

    def option_params(self, item: dict[str, Any], value: Any, th: Any, scene: Any = None) -> dict[str, Any]:
        """What phase 2 needs from the thresholds to draw the options (stored in the candidate)."""
        return {}

    def options(self, item: dict[str, Any], value: Any, choice: int, rng: np.random.Generator,
                params: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """(5 option texts with the answer at `choice`, meta fields describing the options)."""
        raise NotImplementedError

    def check_options(self, record: dict[str, Any], scene: Any, value: Any, th: Any) -> list[str]:
        """Problems with the options of a record against the recomputed value."""
        raise NotImplementedError

    def answer_text(self, item: dict[str, Any], value: Any) -> str:
        raise NotImplementedError

    def meta_value(self, item: dict[str, Any], value: Any) -> dict[str, Any]:
        """meta.value (and meta.unit for numbers) of a record."""
        return {"value": self.answer_text(item, value)}

    # -- phase 1 -----------------------------------------------------------------------------
    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        fps = float(ctx.scene.meta.fps)
        if fps <= 0:
            ctx.skip(self.name, "scene has no frame rate (times cannot be stated)")
            return out
        for seg in ctx.segments(self.name):
            rng = ctx.rng(self.name, seg[0])
            media = ctx.media(seg)
            tuples = distinct_tuples(rng, self.pools(ctx, seg), ctx.config.samples_per_segment)
            if not tuples:
                ctx.skip(self.name, "no qualifying objects in segment")
                continue
            for objs in tuples:
                frames = self.times(ctx, seg, rng)
                if frames is None:
                    ctx.skip(self.name, "segment shows too few frames")
                    continue
                item = {"objects": [int(o) for o in objs], "frames": [int(f) for f in frames], "fps": fps}
                item.update(self.extra_item(ctx, seg, objs, rng))
                value = self.measure(ctx.scene, item, ctx.thresholds)
                if value is None:
                    ctx.skip(self.name, "quantity ill-defined or too close to call")
                    continue
                refs = refer_all(ctx, [(oid, None) for oid in item["objects"]], media, rng, [])
                if refs is None:
                    ctx.skip(self.name, "object cannot be referred to (caption not unique, not visible)")
                    continue
                out.append(self.new_candidate(
                    ctx, seg, len(out), item=_jsonable(item), objects=item["objects"], refs=refs,
                    value=_jsonable(value), measurement=_jsonable(self.measurement(ctx.scene, item, value)), key=self.key_of(item, value), formats=["mc"],
                    option_params=_jsonable(self.option_params(item, value, ctx.thresholds, ctx.scene)),
                ))
        return out

    # -- phase 2 -----------------------------------------------------------------------------
    def slots(self, cand: dict[str, Any], rng: np.random.Generator, env: RenderEnv) -> dict[str, str]:
        item = cand["item"]
        out: dict[str, str] = {}
        for i, ref in enumerate(cand["refs"]):
            p = phrase(ref, env.scene_meta, rng, env.config.coord_style)
            out[f"obj{i + 1}"] = p
            if i == 0:
                out["obj"] = p
        if len(cand["refs"]) == 2 and item.get("quantity") == "distance":  # "... of X and Y"
            out["obj"] = f"{out['obj1']} and {out['obj2']}"
        times = [f / item["fps"] for f in item["frames"]]
        for name, f, t in zip(("t0", "t1"), item["frames"], times):
            # "1.25 s (frame 4)": the time, and which shown image it is (exports may not give times)
            out[name] = f"{fmt_seconds(t)} s ({frame_phrase(cand['frame_indices'].index(f))})"
        if times:
            out["t"] = out["t0"]
        key = item.get("size", item.get("quantity"))
        if key is not None:
            out["what"] = vocab()["what"][key]
        if "unit" in item:
            out["unit"] = item["unit"]
        return out

    def time_window(self, item: dict[str, Any]) -> list[float] | None:
        fr = item["frames"]
        if not fr:
            return None
        return [round(fr[0] / item["fps"], 6), round(fr[-1] / item["fps"], 6)]

    def render(self, cand, fmt, choice, rng, env):
        if fmt != "mc":
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        t = _templates(self)
        item, value = cand["item"], cand["value"]
        params = {**cand["option_params"], "pool": env.pool}
        texts, extra = self.options(item, value, int(choice), rng, params)
        if len(texts) != self.n_options or len(set(texts)) != len(texts):
            raise Skip("not enough distinct options")
        slots = self.slots(cand, rng, env)
        question = _fill(_pick(rng, t.questions["mc"], f"{self.name} mc"), **slots)
        meta = {"objects": list(cand["objects"]), "measurement": cand["measurement"],
                **self.meta_value(item, value), "item": item,
                "segment": cand["segment"], "refs": cand["refs"], **extra}
        tw = self.time_window(item)
        if tw is not None:
            meta["time_window"] = tw
        return {"question": question, "options": {LETTERS[i]: s for i, s in enumerate(texts)},
                "answer": LETTERS[int(choice)], "meta": meta}

    # -- audit -------------------------------------------------------------------------------
    def recompute(self, record, scene, thresholds):
        return {"value": _jsonable(self.measure(scene, record["meta"]["item"], thresholds))}

    def check(self, record, scene, thresholds):
        meta = record["meta"]
        value = self.measure(scene, meta["item"], thresholds)
        if value is None:
            return ["the quantity is no longer well defined"]
        problems = []
        for k, v in self.meta_value(meta["item"], value).items():
            if k == "value" and "decimals" in meta["item"]:
                tol = 0.5 * 10.0 ** -int(meta["item"]["decimals"]) + 1e-9
                if not isinstance(meta.get("value"), (int, float)) or abs(meta["value"] - value) > tol:
                    problems.append(f"meta.value is {meta.get('value')!r}, geometry gives {value!r}")
            elif meta.get(k) != v:
                problems.append(f"meta.{k} is {meta.get(k)!r}, geometry gives {v!r}")
        opts = record.get("options") or {}
        if len(opts) != self.n_options:
            problems.append(f"{len(opts)} options, expected {self.n_options}")
        if opts.get(record["answer"]) != self.answer_text(meta["item"], value):
            problems.append(f"answer {record['answer']!r} is {opts.get(record['answer'])!r}, "
                            f"expected {self.answer_text(meta['item'], value)!r}")
        problems += self.check_options(record, scene, value, thresholds)
        if sorted(meta.get("objects", [])) != sorted(meta["item"]["objects"]):
            problems.append("meta.objects differs from the objects asked about")
        fps = float(scene.meta.fps)
        if meta["item"].get("fps") != fps:
            problems.append(f"meta.item.fps is {meta['item'].get('fps')!r}, the scene's is {fps!r}")
        want_ts = [round(f / fps, 6) for f in record.get("frame_indices", [])]
        if any(abs(a - b) > 1e-6 for a, b in zip(record.get("timestamps", []), want_ts)) or \
                len(record.get("timestamps", [])) != len(want_ts):
            problems.append(f"timestamps {record.get('timestamps')!r} are not the shown frames' times {want_ts!r}")
        if not set(meta["item"]["frames"]) <= set(record.get("frame_indices", [])):
            problems.append("a stated time is not one of the shown frames")
        if meta.get("time_window") != self.time_window(meta["item"]):
            problems.append(f"meta.time_window is {meta.get('time_window')!r}, expected {self.time_window(meta['item'])!r}")
        return problems


class NumericSTITask(STITask):
    """A quantity in a unit; options are a ladder of numbers around it (see module doc)."""

    def is_signed(self, item: dict[str, Any]) -> bool:
        """May the quantity (and its options) be negative?"""
        return False

    def quantity(self, item: dict[str, Any]) -> str:
        return item["quantity"]

    def unit(self, item: dict[str, Any]) -> str:
        return item["unit"]

    def decimals(self, item: dict[str, Any]) -> int:
        return int(item["decimals"])

    def key_of(self, item, value):
        return self.quantity(item)

    def rounded(self, item, value: float) -> float:
        d = self.decimals(item)
        return int(round(value)) if d == 0 else round(float(value), d) + 0.0  # + 0.0: no "-0.00"

    def answer_text(self, item, value):
        return f"{fmt_number(self.rounded(item, value), self.decimals(item))} {self.unit(item)}"

    def meta_value(self, item, value):
        return {"value": self.rounded(item, value), "unit": self.unit(item),
                "quantity": self.quantity(item)}

    def option_params(self, item, value, th, scene=None):
        return {"tolerance": tolerance(th, self.quantity(item), value, self.unit(item)),
                "ladder_step": list(th.ladder_step)}

    def ladder(self, item: dict[str, Any], value: float, choice: int, rng: np.random.Generator,
               params: dict[str, Any]) -> list[float]:
        """n_options rounded values ascending, the rounded answer at `choice`, every other one
        more than the tolerance away from the exact value (Skip when they cannot all be positive)."""
        d = self.decimals(item)
        tol = float(params["tolerance"])
        unit = 10.0 ** -d
        step = tol * float(rng.uniform(*params["ladder_step"])) + 2 * unit
        if not self.is_signed(item) and choice > 0:
            room = (value - unit) / choice           # the lowest option must stay >= one unit
            if room < tol + 2 * unit:
                raise Skip("value too small for a ladder of options")
            step = min(step, room)
        vals = [self.rounded(item, value + (j - choice) * step) for j in range(self.n_options)]
        vals[choice] = self.rounded(item, value)
        if any(j != choice and abs(v - value) <= tol for j, v in enumerate(vals)):
            raise Skip("options within the tolerance of the answer")
        return vals

    def options(self, item, value, choice, rng, params):
        vals = self.ladder(item, float(value), choice, rng, params)
        d, u = self.decimals(item), self.unit(item)
        texts = [f"{fmt_number(v, d)} {u}" for v in vals]
        return texts, {"option_values": {LETTERS[i]: v for i, v in enumerate(vals)}, "tolerance": params["tolerance"]}

    def check_options(self, record, scene, value, th):
        problems = []
        item = record["meta"]["item"]
        tol = tolerance(th, self.quantity(item), value, self.unit(item))
        d, u = self.decimals(item), self.unit(item)
        vals = record["meta"].get("option_values") or {}
        for letter, text in (record.get("options") or {}).items():
            v = vals.get(letter)
            if not isinstance(v, (int, float)) or text != f"{fmt_number(v, d)} {u}":
                problems.append(f"option {letter} {text!r} does not match meta.option_values ({v!r})")
            elif letter != record["answer"] and abs(v - value) <= tol:
                problems.append(f"option {letter} ({text}) is within the tolerance {tol:.4g} of {value:.4g}")
        return problems


def pick_frames(media: Sequence[int], rng: np.random.Generator, k: int, min_gap: int = 1) -> list[int] | None:
    """k shown frames (scene indices, ascending), consecutive picks at least `min_gap` media
    positions apart; None when the segment shows too few frames."""
    n = len(media)
    if n < 1 + (k - 1) * min_gap:
        return None
    for _ in range(20):
        pos = sorted(int(p) for p in rng.choice(n, size=k, replace=False))
        if all(b - a >= min_gap for a, b in zip(pos, pos[1:])):
            return [int(media[p]) for p in pos]
    return [int(media[i * min_gap]) for i in range(k)]
