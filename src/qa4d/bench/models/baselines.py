"""Reference models that never look at the frames: `random`, `prior`, `oracle` and `obedient`.

- `random`: uniform over the options (mc), yes/no, otherwise a random answer of the right shape.
  Seeded per item (seed, item id), so answers do not depend on order, concurrency or resumption.
- `prior`: the blind answer prior. Fitted on the train split next to the evaluated qa4d split
  (DATASET/train/samples.jsonl when evaluating DATASET/bench, or `--prior-train PATH`), it
  answers each item with its task's most frequent answer text that is one of the item's options
  (mc), the task's majority (yes/no), the task's median (numbers) or its most frequent answer.
  What a model scores above this, it did not get from answer statistics alone.
- `oracle`: the ground truth, written the way the answer extractor reads it ("Answer: B", the
  JSON track for tracks). Anything below 1.0 is a bug in loading, extraction or scoring.
- `obedient`: the ground truth written exactly in the form the prompt's instruction asks for
  (`Benchmark.answer_form`: the letter alone, a final line "Therefore, the final answer is: X", a
  value in backticks or a JSON track; in the unit and coordinate space the instruction names, with
  a short reasoning first in chain-of-thought mode). It is built from the instruction contract, not
  from the extractor, so anything below 1.0 means a prompt asks for something the scorer does not
  read that way.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa4d.bench.models.base import ImageLike, Model, ModelConfigError, ModelError
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem


def item_rng(seed: int, item_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, item id)."""
    h = int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, h])


def _json_list(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def _with_unit(value: str, item: BenchItem) -> str:
    unit = item.meta.get("unit")
    return f"{value} {unit}" if unit else value


@register_model("random")
class RandomModel(Model):
    """Chance-level answers of the right format."""

    needs_images = False
    concurrency = 1

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "RandomModel":
        return cls(seed=getattr(args, "seed", 0) or 0)

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        rng = item_rng(self.seed, item.id)
        fmt = item.answer_format
        if fmt == "mc":
            if not item.options:
                raise ValueError(f"item {item.id}: answer_format 'mc' without options")
            letters = sorted(item.options)
            return f"Answer: {letters[int(rng.integers(len(letters)))]}"
        if fmt == "yesno":
            return f"Answer: {'yes' if rng.random() < 0.5 else 'no'}"
        if fmt in ("number", "scalar"):
            # log-uniform over two decades around 1 unit: a plausible magnitude, no information
            return f"Answer: {_with_unit(_fmt(float(10 ** rng.uniform(-1, 1))), item)}"
        if fmt == "vector":
            gt = _json_list(item.answer)
            dim = int(item.meta.get("dim") or (len(gt) if isinstance(gt, list) and gt else 3))
            return "Answer: [" + ", ".join(_fmt(float(v)) for v in rng.uniform(-2, 2, dim)) + "]"
        width, height = _image_size(item)
        if fmt == "coord":
            return f"Answer: [{_fmt(float(rng.uniform(0, width)))}, {_fmt(float(rng.uniform(0, height)))}]"
        if fmt == "track":
            gt = item.meta.get("track") or _json_list(item.answer)
            frames = [int(p["frame"]) for p in gt] if isinstance(gt, list) else list(range(1, 9))
            track = [
                {"frame": f, "x": round(float(rng.uniform(0, width)), 4), "y": round(float(rng.uniform(0, height)), 4),
                 "visible": bool(rng.random() < 0.5)}
                for f in frames
            ]
            return json.dumps(track)
        return "Answer: unknown"

    def describe(self) -> dict[str, Any]:
        return {"model": "random", "seed": self.seed}


def _image_size(item: BenchItem) -> tuple[float, float]:
    """(width, height) of the item's coordinate frame: pixels, 1 x 1 when normalised, or the
    0..coord_scale range of normalised coordinates (MultiSPA: 0-1000)."""
    if item.meta.get("coord_scale"):
        scale = float(item.meta["coord_scale"])
        return scale, scale
    for wk, hk in (("image_width", "image_height"), ("width", "height")):
        if wk in item.meta and hk in item.meta:
            return float(item.meta[wk]), float(item.meta[hk])
    size = item.meta.get("image_size")  # [height, width], as the loaders store it
    if isinstance(size, (list, tuple)) and len(size) == 2 and min(size) > 0:
        return float(size[1]), float(size[0])
    return 256.0, 256.0  # TAP-Vid's reference resolution


@register_model("oracle")
class OracleModel(Model):
    """The ground truth in a format the extractor parses: a check of the plumbing."""

    needs_images = False

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        if item.answer_format == "track":
            # score against the loader's reference track (frames/coordinates as the question names them)
            track = item.meta.get("track")
            if isinstance(track, list) and track:
                return json.dumps([{k: p[k] for k in ("frame", "x", "y", "visible")} for p in track])
            return item.answer
        if item.answer_format in ("number", "scalar"):
            return f"Answer: {_with_unit(item.answer, item)}"
        return f"Answer: {item.answer}"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().casefold()).rstrip(".")


def _number(text: str) -> float | None:
    m = re.search(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", str(text))
    return float(m.group()) if m else None


class AnswerPrior:
    """Per-task answer statistics of a train split (qa4d samples.jsonl)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.texts: dict[str, Counter] = defaultdict(Counter)     # task -> answer text counts
        self.letters: dict[str, Counter] = defaultdict(Counter)   # task -> answer letter counts (mc)
        self.numbers: dict[str, list[float]] = defaultdict(list)  # task -> numeric answers
        self.n = 0
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    s = json.loads(line)
                    task, answer, fmt = s["task"], str(s["answer"]), s.get("answer_format", "mc")
                    options = s.get("options") or {}
                except (ValueError, KeyError, TypeError) as e:
                    raise ModelConfigError(f"{self.path}:{lineno}: not a qa4d sample record ({e})") from None
                if fmt == "mc":
                    if answer not in options:
                        raise ModelConfigError(
                            f"{self.path}:{lineno}: field 'answer' {answer!r} is not one of the options {sorted(options)}"
                        )
                    self.texts[task][_norm(options[answer])] += 1
                    self.letters[task][answer] += 1
                else:
                    self.texts[task][_norm(answer)] += 1
                    v = _number(answer)
                    if v is not None:
                        self.numbers[task].append(v)
                self.n += 1
        if self.n == 0:
            raise ModelConfigError(f"{self.path}: the train split is empty; the prior has nothing to fit")

    @staticmethod
    def _ranked(counter: Counter) -> list[str]:
        # most frequent first; ties broken by text so the prior is deterministic
        return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]

    @staticmethod
    def _pool(table: dict, task: str):
        """The task's statistics, or all tasks pooled when the task never occurs in train."""
        if task in table and table[task]:
            return table[task], True
        if table is None or not table:
            return Counter(), False
        first = next(iter(table.values()))
        if isinstance(first, Counter):
            pooled: Counter = Counter()
            for c in table.values():
                pooled.update(c)
            return pooled, False
        return [v for vs in table.values() for v in vs], False

    def answer(self, item: BenchItem) -> tuple[str, bool]:
        """The prior's answer text for `item` and whether the item's own task was seen in train."""
        fmt = item.answer_format
        texts, seen = self._pool(self.texts, item.task)
        if fmt == "mc":
            options = item.options or {}
            by_text = {}
            for letter in sorted(options):
                by_text.setdefault(_norm(options[letter]), letter)
            for text in self._ranked(texts):
                if text in by_text:
                    return by_text[text], seen
            # no train answer text is an option here: fall back to the most frequent position
            letters, _ = self._pool(self.letters, item.task)
            for letter in self._ranked(letters):
                if letter in options:
                    return letter, seen
            return sorted(options)[0], seen
        if fmt == "yesno":
            yn = Counter({k: v for k, v in texts.items() if k in ("yes", "no")})
            return (self._ranked(yn)[0] if yn else "yes"), seen
        if fmt in ("number", "scalar"):
            nums, seen_n = self._pool(self.numbers, item.task)
            if nums:
                return _fmt(float(np.median(nums))), seen_n
        ranked = self._ranked(texts)
        return (ranked[0] if ranked else ""), seen


@register_model("prior")
class PriorModel(Model):
    """The blind per-task answer prior of the train split."""

    needs_images = False

    def __init__(self, prior: AnswerPrior):
        self.prior = prior
        self.unseen_tasks: Counter = Counter()

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--prior-train", metavar="SAMPLES_JSONL",
                           help="prior: train samples.jsonl to fit on (default: the train split next to the "
                                "evaluated qa4d split, DATASET/train/samples.jsonl)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "PriorModel":
        path = getattr(args, "prior_train", None)
        if not path:
            split_dir = getattr(args, "split_dir", None)
            if split_dir is None:
                raise ModelConfigError(
                    "--model prior fits on a qa4d train split: evaluate a qa4d split directory "
                    "(--benchmark DATASET/bench) or pass --prior-train DATASET/train/samples.jsonl"
                )
            path = Path(split_dir).parent / "train" / "samples.jsonl"
            if not path.is_file():
                raise ModelConfigError(
                    f"--model prior: no train split next to {split_dir} ({path} does not exist); "
                    "pass --prior-train PATH"
                )
        elif not Path(path).is_file():
            raise ModelConfigError(f"--prior-train {path} does not exist")
        return cls(AnswerPrior(Path(path)))

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        text, seen = self.prior.answer(item)
        if not seen:
            self.unseen_tasks[item.task] += 1
        if item.answer_format in ("number", "scalar"):
            text = _with_unit(text, item)
        return f"Answer: {text}"

    def describe(self) -> dict[str, Any]:
        return {
            "model": "prior",
            "train": str(self.prior.path),
            "train_samples": self.prior.n,
            "tasks_not_in_train": dict(sorted(self.unseen_tasks.items())),
        }


# ----------------------------------------------------------------------------- obedient

# Unit -> (dimension, size in the dimension's base unit). The obedient model's own table: it
# converts the ground truth into the unit the instruction names, as a person would.
_UNIT_SIZE = {
    "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1.0), "km": ("length", 1000.0),
    "deg": ("angle", 1.0), "rad": ("angle", 180.0 / math.pi), "s": ("time", 1.0), "m/s": ("speed", 1.0),
}
# A coordinate space -> how many of its units span the image width and height (None: the frame size).
_COORD_SPAN = {"unit": 1.0, "per_mille": 1000.0, "pixels": None}
REASONING = ("Let me think step by step. I look at what the frames show, relate it to what the "
             "question asks, and check that the result holds across the frames.")


def _in_unit(values: np.ndarray, unit: str | None, target: str | None) -> np.ndarray:
    if unit is None or target is None or unit == target:
        return values
    (d1, s1), (d2, s2) = _UNIT_SIZE[unit], _UNIT_SIZE[target]
    if d1 != d2:
        raise ValueError(f"cannot express {unit} in {target}")
    return values * s1 / s2


def _in_coords(xy: np.ndarray, space: str, target: str, frame_size: tuple[float, float] | None) -> np.ndarray:
    """(..., 2) points from one coordinate space to another; frame_size (width, height) in pixels."""
    def span(sp: str) -> np.ndarray:
        if _COORD_SPAN[sp] is not None:
            return np.array([_COORD_SPAN[sp]] * 2)
        if frame_size is None:
            raise ValueError("pixel coordinates need the size of the frames shown")
        return np.asarray(frame_size, dtype=np.float64)

    return xy / span(space) * span(target)


def _num(v: float) -> str:
    return f"{float(v):.6g}"


def _answer_value(item: BenchItem, form, frame_size: tuple[float, float] | None) -> str:
    """The ground truth of `item` as the text of the value `form` asks for."""
    fmt = item.answer_format
    if fmt in ("mc", "yesno", "free"):
        return item.answer
    if fmt in ("number", "scalar"):
        return _num(_in_unit(np.array(float(item.answer)), item.meta.get("unit"), form.unit))
    if fmt == "vector":
        v = _in_unit(np.asarray(json.loads(item.answer), dtype=np.float64), item.meta.get("unit"), form.unit)
        return "[" + ", ".join(_num(x) for x in v) + "]"
    if fmt == "coord":
        xy = _in_coords(np.asarray(json.loads(item.answer), dtype=np.float64), item.meta["coords"], form.coords, frame_size)
        return "[" + ", ".join(_num(x) for x in xy) + "]"
    if fmt == "track":
        out = []
        for p in item.meta["track"]:  # frames named as the question names them
            xy = _in_coords(np.array([float(p["x"]), float(p["y"])]), item.meta["coords"], form.coords, frame_size)
            visible = bool(p["visible"])
            out.append({"frame": int(p["frame"]), "x": float(_num(xy[0])) if visible else None,
                        "y": float(_num(xy[1])) if visible else None, "visible": visible})
        return json.dumps(out)
    raise ValueError(f"item {item.id!r}: unknown answer_format {fmt!r}")


def obedient_reply(item: BenchItem, form, frame_size: tuple[float, float] | None = None) -> str:
    """The reply that does exactly what `form` (an AnswerForm) asks, with the ground truth of `item`.

    frame_size: (width, height) in pixels of the frames shown, needed only when the form asks for
    pixel coordinates.
    """
    value = _answer_value(item, form, frame_size)
    lead = REASONING + "\n" if form.mode == "cot" else ""
    if form.place == "alone":
        return value
    if form.place == "final_line":
        from qa4d.bench.benchmarks.base import FINAL_LINE

        return f"{lead}{FINAL_LINE}{value}"
    if form.place == "backticks":
        return f"{lead}`{value}`"
    if form.place == "json":
        return f"{lead}{value}"
    raise ValueError(f"unknown answer place {form.place!r}")


@register_model("obedient")
class ObedientModel(Model):
    """Knows the truth and answers in exactly the form the prompt's instruction asks for."""

    needs_images = False

    def __init__(self, benchmark=None):
        self._benchmarks: dict[str, Any] = {}
        if benchmark is not None:
            self._benchmarks[benchmark.name] = benchmark

    def _benchmark(self, item: BenchItem):
        if item.benchmark not in self._benchmarks:
            from qa4d.bench.registry import get_benchmark

            try:
                self._benchmarks[item.benchmark] = get_benchmark(item.benchmark)()
            except KeyError as e:
                raise ModelError(f"item {item.id}: {e.args[0]}") from None
        return self._benchmarks[item.benchmark]

    def form_in(self, prompt: str, item: BenchItem):
        """The AnswerForm whose instruction the prompt shows (the longest one, if several do)."""
        from qa4d.bench.benchmarks.base import PROMPT_MODES

        bench = self._benchmark(item)
        shown = [f for f in (bench.answer_form(item, m) for m in PROMPT_MODES) if f.instruction in prompt]
        if not shown:
            raise ModelError(f"item {item.id}: the prompt shows none of the {item.benchmark} answer instructions")
        return max(shown, key=lambda f: len(f.instruction))

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        form = self.form_in(prompt, item)
        frame_size = None
        if form.coords == "pixels":
            frame_size = self._frame_size(images, item)
        return obedient_reply(item, form, frame_size)

    def _frame_size(self, images: Sequence[ImageLike], item: BenchItem) -> tuple[float, float]:
        from PIL import Image

        src = images[-1] if images else None
        if src is None:
            paths = self._benchmark(item).media_paths(item, None)
            src = paths[0] if paths else None
        if src is None:
            raise ModelError(f"item {item.id}: pixel coordinates asked, but no frame to measure")
        if hasattr(src, "size"):
            return float(src.size[0]), float(src.size[1])
        with Image.open(src) as im:
            return float(im.size[0]), float(im.size[1])
