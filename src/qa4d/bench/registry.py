"""Decorator registries: adding a benchmark or a model is one new file in benchmarks/ or models/.

    @register_benchmark("vlm4d")
    class VLM4D(Benchmark): ...

    @register_model("random")
    class RandomModel(Model): ...
"""

from __future__ import annotations

import importlib
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


def get_benchmark(name: str) -> type:
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
