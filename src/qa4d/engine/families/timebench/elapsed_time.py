"""elapsed_time: how much time passes from the first shown image of a re-timed clip to the last.

A candidate is one segment of a scene: `images` frames taken every `step` scene frames (both
drawn per segment, `draw_clip`, at most `media_frames` images), shown as a clip playing at `fps`,
one of the 4 rates of timing.json drawn per segment. The record's `timestamps` are the
shown images' times in that clip, first image at 0 s, so the answer is
`(images - 1) * step / fps` seconds: `meta.value` (2 decimals, `meta.unit` "s"), with `meta.fps`
and `meta.step`. The question states the rate and the step, which is what a model needs (the
4D-RGPT model gets the times through its timestamp encoding instead; qa4d writes them in
`timestamps` for such models). Options: the true duration and the other multiples of timing.json
(0.25x, 0.5x, 2x, 4x), each rounded to 2 decimals from the exact duration, in random order; the
correct position cycles over A-E (engine `assign_choices`). That published layout always makes the
answer the median option; with the threshold `uniform_rank` = 1 (preset `timebench-uniform-rank`)
the five ratios are instead a ladder by factors of 2 holding 1 at a rank drawn uniformly per
segment (`ladder`), so neither the letter nor the rank of the answer tells it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa4d.engine.kinds.base import LETTERS, Skip, Task, _fill, _pick, _templates
from qa4d.engine.registry import register_task

TIMING = json.loads(Path(__file__).with_name("timing.json").read_text(encoding="utf-8"))


def draw_clip(rng, start: int, stop: int, max_images: int) -> tuple[list[int], int]:
    """(scene frames shown, step) of a clip inside the segment [start, stop): a number of images
    drawn in [min(3, n_max), n_max] (n_max = min(max_images, stop - start)), then a whole step
    that fits, then a start; all uniform. Varying the span keeps durations from repeating (a
    blind answer prior would learn repeated durations). Empty when fewer than 2 frames fit."""
    n_max = min(int(max_images), stop - start)
    if n_max < 2:
        return [], 0
    n = int(rng.integers(min(3, n_max), n_max + 1))
    step = int(rng.integers(1, (stop - 1 - start) // (n - 1) + 1))
    first = int(rng.integers(start, stop - (n - 1) * step))
    return [first + k * step for k in range(n)], step


def duration_s(frames: list[int], fps: float) -> float:
    """Seconds from the first shown frame to the last in a clip playing at `fps`."""
    return (frames[-1] - frames[0]) / float(fps)


def ladder(rank: int, n: int = 5) -> list[float]:
    """n ratios 2^(j - rank), j = 0..n-1, ascending: 1 is the rank-th smallest (0-based)."""
    return [2.0 ** (j - int(rank)) for j in range(n)]


def published_ratios() -> list[float]:
    return [float(r) for r in TIMING["ratios"]]


def option_text(seconds: float) -> str:
    d = int(TIMING["decimals"])
    return f"{round(seconds, d):.{d}f} s"


@register_task
class ElapsedTime(Task):
    family = "timebench"
    name = "elapsed_time"
    category = "time"
    kind = "elapsed_time"
    n_options = len(TIMING["ratios"])
    train_formats = ("mc",)
    bench_formats = ("mc",)
    balance_mode = "cap"     # the key is the frame rate: no rate may dominate

    def candidates(self, ctx):
        rates = [float(r) for r in TIMING["rates_fps"]]
        out = []
        for seg in ctx.segments(self.name):
            rng = ctx.rng(self.name, seg[0])
            fps = rates[int(rng.integers(len(rates)))]
            frames, step = draw_clip(rng, seg[0], seg[1], ctx.config.media_frames)
            if not frames:
                ctx.skip(self.name, "segment shorter than 2 frames")
                continue
            if duration_s(frames, fps) < float(ctx.thresholds.min_duration_s):
                ctx.skip(self.name, "clip shorter than min_duration_s")
                continue
            cand = self.clip_candidate(ctx, seg, frames, step, fps)
            if int(ctx.thresholds.uniform_rank):
                cand["ratios"] = ladder(int(rng.integers(self.n_options)), self.n_options)
            out.append(cand)
        return out

    def clip_candidate(self, ctx, seg, frames: list[int], step: int, fps: float) -> dict[str, Any]:
        """The candidate showing scene `frames` (`step` apart) as a clip playing at `fps`."""
        exact = duration_s(frames, fps)
        c = self.new_candidate(ctx, seg, 0, frames=frames, objects=[], fps=fps, step=step, measurement=exact,
                               value=round(exact, int(TIMING["decimals"])), key=f"{fps:g}fps", formats=["mc"])
        c["timestamps"] = [round((t - frames[0]) / fps, 6) for t in frames]
        return c

    def render(self, cand, fmt, choice, rng, env):
        if fmt != "mc":
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        others = [float(r) for r in cand.get("ratios", published_ratios()) if float(r) != 1.0]
        ratios = [others[int(i)] for i in rng.permutation(len(others))]
        ratios.insert(int(choice), 1.0)
        options = {LETTERS[i]: option_text(r * cand["measurement"]) for i, r in enumerate(ratios)}
        if len(set(options.values())) < len(options):
            raise Skip("options not distinct at 2 decimals")
        slots = {"fps": f"{cand['fps']:g}", "images": str(len(cand["frame_indices"])), "step": str(cand["step"])}
        question = _fill(_pick(rng, _templates(self).questions["mc"], f"{self.name} mc"), **slots)
        meta = {"objects": [], "value": cand["value"], "unit": "s", "measurement": cand["measurement"],
                "fps": cand["fps"], "step": cand["step"], "segment": cand["segment"],
                "times_hidden": True,  # the clip's times are the answer: never show them to the model
                "option_ratios": {LETTERS[i]: r for i, r in enumerate(ratios)}}
        return {"question": question, "options": options, "answer": LETTERS[int(choice)], "meta": meta}

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        exact = duration_s(record["frame_indices"], meta["fps"])
        return {"value": round(exact, int(TIMING["decimals"])), "measurement": exact}

    def check(self, record, scene, thresholds):
        meta, frames = record["meta"], record["frame_indices"]
        fps, step = meta.get("fps"), meta.get("step")
        problems = []
        if fps not in [float(r) for r in TIMING["rates_fps"]]:
            return [f"meta.fps is {fps!r}, not one of the rates {TIMING['rates_fps']}"]
        if any(not 0 <= t < scene.num_frames for t in frames):
            return [f"frame_indices {frames} outside the scene's {scene.num_frames} frames"]
        if not isinstance(step, int) or step < 1 or any(b - a != step for a, b in zip(frames, frames[1:])):
            problems.append(f"frame_indices {frames} are not evenly meta.step={step!r} apart")
        got = self.recompute(record, scene, thresholds)
        if meta.get("value") != got["value"] or meta.get("unit") != "s":
            problems.append(f"meta.value is {meta.get('value')!r} {meta.get('unit')}, frames give {got['value']!r} s")
        want_ts = [round((t - frames[0]) / fps, 6) for t in frames]
        if record.get("timestamps") != want_ts:
            problems.append(f"timestamps {record.get('timestamps')} are not the clip times {want_ts}")
        ratios = meta.get("option_ratios") or {}
        mode = None if thresholds is None else int(thresholds.uniform_rank)   # None: either layout
        layouts = ([published_ratios()] if mode == 0 else []) + \
            ([ladder(k, self.n_options) for k in range(self.n_options)] if mode != 0 else [])
        if sorted(float(r) for r in ratios.values()) not in [sorted(x) for x in layouts]:
            problems.append(f"meta.option_ratios {ratios} is not {published_ratios() if mode == 0 else 'a ladder of 5 ratios by factors of 2 holding 1'}")
        for letter, text in (record.get("options") or {}).items():
            r = ratios.get(letter)
            if r is None or text != option_text(float(r) * got["measurement"]):
                problems.append(f"option {letter} {text!r} is not {r!r} x the duration")
        if len(record.get("options") or {}) != self.n_options or len(set((record.get("options") or {}).values())) != self.n_options:
            problems.append(f"options {record.get('options')} are not {self.n_options} distinct texts")
        if (record.get("options") or {}).get(record.get("answer")) != option_text(got["measurement"]):
            problems.append(f"answer {record.get('answer')!r} is not the option {option_text(got['measurement'])!r}")
        return problems
