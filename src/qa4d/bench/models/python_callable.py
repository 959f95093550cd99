"""`--model python:MODULE:CALLABLE`: any Python function as a model.

MODULE is an importable module name (`mypkg.vlm`) or a path to a `.py` file; CALLABLE names an
attribute of it (dots allowed: `Wrapper.answer`). It is called as `CALLABLE(prompt, images, item)`
with the prompt text, the sampled frames (RGB PIL images) and the `qa4d.bench.types.BenchItem`,
and must return the response text. Exceptions it raises are recorded as the item's error (and
retried on the next start); `ModelConfigError` from it stops the run. With `--concurrency N > 1`
it is called from N threads at once.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from qa4d.bench.models.base import ImageLike, Model, ModelConfigError, ModelError
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem


def load_callable(spec: str) -> tuple[Callable[..., Any], str]:
    """Resolve `python:MODULE:CALLABLE` (or `MODULE:CALLABLE`) to the callable and its display name."""
    body = spec[len("python:"):] if spec.startswith("python:") else spec
    module_name, sep, attr = body.rpartition(":")
    if not sep or not module_name or not attr:
        raise ModelConfigError(f"--model {spec!r}: expected python:MODULE:CALLABLE, e.g. python:mypkg.vlm:answer")
    if module_name.endswith(".py"):
        path = Path(module_name)
        if not path.is_file():
            raise ModelConfigError(f"--model {spec!r}: file {path} does not exist")
        mod_id = "qa4d_user_model_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        loader_spec = importlib.util.spec_from_file_location(mod_id, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ModelConfigError(f"--model {spec!r}: cannot import {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[mod_id] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as e:
            raise ModelConfigError(f"--model {spec!r}: importing {path} failed: {type(e).__name__}: {e}") from e
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ModelConfigError(f"--model {spec!r}: cannot import module {module_name!r}: {e}") from e
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ModelConfigError(f"--model {spec!r}: module {module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise ModelConfigError(f"--model {spec!r}: {attr!r} is a {type(obj).__name__}, not callable")
    return obj, f"{module_name}:{attr}"


@register_model("python")
class PythonCallableModel(Model):
    """A user function `(prompt, images, item) -> str`."""

    def __init__(self, fn: Callable[..., Any], display: str, concurrency: int = 1):
        if int(concurrency) < 1:
            raise ModelConfigError(f"--concurrency must be at least 1, got {concurrency}")
        self.fn = fn
        self.display = display
        self.concurrency = int(concurrency)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "PythonCallableModel":
        fn, display = load_callable(args.model)
        concurrency = getattr(args, "concurrency", None)
        return cls(fn, display, concurrency=1 if concurrency is None else concurrency)

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        out = self.fn(prompt, images, item)
        if not isinstance(out, str):
            raise ModelError(f"{self.display} returned {type(out).__name__}, expected str")
        return out

    def describe(self) -> dict[str, Any]:
        return {"model": "python", "callable": self.display}
