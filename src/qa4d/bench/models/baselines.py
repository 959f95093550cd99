"""Reference models that never look at the frames: `random`, `prior` and `oracle`.

- `random`: uniform over the options (mc), yes/no, otherwise a random answer of the right shape.
  Seeded per item (seed, item id), so answers do not depend on order, concurrency or resumption.
- `prior`: the blind answer prior. Fitted on the train split next to the evaluated qa4d split
  (DATASET/train/samples.jsonl when evaluating DATASET/bench, or `--prior-train PATH`), it
  answers each item with its task's most frequent answer text that is one of the item's options
  (mc), the task's majority (yes/no), the task's median (numbers) or its most frequent answer.
  What a model scores above this, it did not get from answer statistics alone.
- `oracle`: the ground truth, written the way the answer extractor reads it ("Answer: B", the
  JSON track for tracks). Anything below 1.0 is a bug in loading, extraction or scoring.
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

from qa4d.bench.models.base import ImageLike, Model, ModelConfigError
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
