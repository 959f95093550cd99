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
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa4d.answers import AnswerFormat, find_format, get_format
from qa4d.answers.forms import FINAL_LINE, PROMPT_MODES
from qa4d.answers.prior import AnswerStats
from qa4d.bench.models.base import ImageLike, Model, ModelConfigError, ModelError
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem


def item_rng(seed: int, item_id: str) -> np.random.Generator:
    """A generator that depends only on (seed, item id)."""
    h = int.from_bytes(hashlib.sha256(item_id.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, h])


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
        return get_format(item.answer_format).random_reply(item, item_rng(self.seed, item.id))

    def describe(self) -> dict[str, Any]:
        return {"model": "random", "seed": self.seed}


@register_model("oracle")
class OracleModel(Model):
    """The ground truth in a format the extractor parses: a check of the plumbing."""

    needs_images = False

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        return get_format(item.answer_format).oracle_reply(item)


class AnswerPrior(AnswerStats):
    """Per-task answer statistics of a train split (qa4d samples.jsonl); each record is counted by
    its answer format (`AnswerFormat.observe`)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.n = 0
        with open(self.path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    s = json.loads(line)
                    task, fmt = s["task"], find_format(s.get("answer_format", "mc")) or _OPEN
                    record = {"answer": str(s["answer"]), "options": s.get("options") or {}}
                except (ValueError, KeyError, TypeError) as e:
                    raise ModelConfigError(f"{self.path}:{lineno}: not a qa4d sample record ({e})") from None
                try:
                    fmt.observe(self, task, record)
                except ValueError as e:
                    raise ModelConfigError(f"{self.path}:{lineno}: {e}") from None
                self.n += 1
        if self.n == 0:
            raise ModelConfigError(f"{self.path}: the train split is empty; the prior has nothing to fit")

    def answer(self, item: BenchItem) -> tuple[str, bool]:
        """The prior's answer text for `item` and whether the item's own task was seen in train."""
        return get_format(item.answer_format).prior_answer(self, item)


_OPEN = AnswerFormat()  # a record of a format not registered here: counted as an open text answer


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
        return get_format(item.answer_format).prior_reply(text, item)

    def describe(self) -> dict[str, Any]:
        return {
            "model": "prior",
            "train": str(self.prior.path),
            "train_samples": self.prior.n,
            "tasks_not_in_train": dict(sorted(self.unseen_tasks.items())),
        }


# ----------------------------------------------------------------------------- obedient

REASONING = ("Let me think step by step. I look at what the frames show, relate it to what the "
             "question asks, and check that the result holds across the frames.")


def obedient_reply(item: BenchItem, form, frame_size: tuple[float, float] | None = None) -> str:
    """The reply that does exactly what `form` (an AnswerForm) asks, with the ground truth of `item`.

    frame_size: (width, height) in pixels of the frames shown, needed only when the form asks for
    pixel coordinates.
    """
    value = get_format(item.answer_format).obedient_value(item, form, frame_size)
    lead = REASONING + "\n" if form.mode == "cot" else ""
    if form.place == "alone":
        return value
    if form.place == "final_line":
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
