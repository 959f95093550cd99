"""Decorator registries: adding a benchmark or a model is one new file in benchmarks/ or models/.

    @register_benchmark("vlm4d")
    class VLM4D(Benchmark): ...

    @register_model("random")
    class RandomModel(Model): ...
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Callable, TypeVar

T = TypeVar("T")

BENCHMARKS: dict[str, type] = {}
MODELS: dict[str, type] = {}


def _register(table: dict[str, type], kind: str, name: str) -> Callable[[type[T]], type[T]]:
    def deco(cls: type[T]) -> type[T]:
        if name in table and table[name] is not cls:
            raise ValueError(f"{kind} {name!r} is registered twice ({table[name].__module__}, {cls.__module__})")
        table[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def register_benchmark(name: str):
    return _register(BENCHMARKS, "benchmark", name)


def register_model(name: str):
    return _register(MODELS, "model", name)


def _import_all(package: str) -> None:
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")


def _import_named(package: str, name: str) -> None:
    """Import the module named like the entry ("sti-bench" -> sti_bench), where registries keep
    it, so one lookup does not import every loader (and what they import)."""
    module = f"{package}.{name.replace('-', '_')}"
    if name.replace("-", "_").isidentifier() and importlib.util.find_spec(module) is not None:
        importlib.import_module(module)


def get_benchmark(name: str) -> type:
    if name not in BENCHMARKS:
        _import_named("qa4d.bench.benchmarks", name)
    if name not in BENCHMARKS:  # registered under another module's name, or unknown
        _import_all("qa4d.bench.benchmarks")
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}") from None


def get_model(name: str) -> type:
    _import_all("qa4d.bench.models")
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}") from None
