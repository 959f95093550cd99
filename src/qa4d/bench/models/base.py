"""What every model behind `qa4d eval --model ...` provides.

A model turns (prompt, frames, item) into raw response text. The runner owns everything else:
media loading, prompts, concurrency, resumption and scoring.

    @register_model("mine")
    class Mine(Model):
        @classmethod
        def add_arguments(cls, group): group.add_argument("--mine-path")
        @classmethod
        def from_args(cls, args): return cls(args.mine_path)
        def generate(self, prompt, images, item): return "Answer: A"

Two exception types tell the runner what to do with a failure:
  - `ModelError`: this item failed for good (after the model's own retries). The runner records
    `{"id", "response": null, "error"}` and goes on; the next start of the same run retries it.
  - `ModelConfigError`: the model cannot work at all (wrong URL, unknown model name, missing
    weights). The runner stops at once, records nothing for the item and exits non-zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence, Union

from qa4d.bench.types import BenchItem

try:  # PIL is a core dependency; the alias only documents what `images` may hold
    from PIL.Image import Image as PILImage
except ImportError:  # pragma: no cover
    PILImage = Any  # type: ignore[misc,assignment]

ImageLike = Union["PILImage", str, Path]


class ModelError(RuntimeError):
    """A permanent failure for one item; recorded as the item's error."""


class ModelConfigError(RuntimeError):
    """The model cannot answer anything as configured; the run stops."""


class Model:
    """Base class of all models. Subclasses set `name` through `@register_model`."""

    name: str = "model"
    # How many `generate` calls the runner may have in flight at once (thread pool size).
    concurrency: int = 1
    # False for blind baselines: the runner then skips the media check, decodes nothing and
    # passes no images (so such a model runs without the benchmark's videos).
    needs_images: bool = True
    # True when `generate_batch` really batches (one forward pass for several items); the runner
    # then hands it up to `--batch-size` items at once, else it calls `generate` per item.
    supports_batching: bool = False
    # True when `generate` takes stored images as paths (`images` then holds paths for image-list
    # media and PIL images for frames decoded from a video); False: always RGB PIL images.
    accepts_paths: bool = False

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        """Add this model's command-line flags to `qa4d eval` (flag names must not clash)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Model":
        """Build the model from parsed `qa4d eval` arguments."""
        return cls()

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        """Answer one item: `images` are what the model is shown, in order: the item's prefix images
        (e.g. R4D-Bench's Set-of-Marks image) then the sampled frames (PIL images or paths)."""
        raise NotImplementedError

    def generate_batch(
        self, prompts: Sequence[str], images: Sequence[Sequence[ImageLike]], items: Sequence[BenchItem]
    ) -> list[str]:
        """Answer several items at once, one text per item in order; models with real batching
        override this and set `supports_batching`. An exception fails the whole batch (the runner
        then asks its items one at a time with `generate`)."""
        return [self.generate(p, im, it) for p, im, it in zip(prompts, images, items)]

    def describe(self) -> dict[str, Any]:
        """What identifies this model in run.json (never secrets such as API keys)."""
        return {"model": self.name}

    def close(self) -> None:
        """Release connections or memory; called once when the run ends."""
