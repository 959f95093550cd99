"""Loading a family's thresholds file: a "default" block, per-source blocks, user overrides.

Each family keeps its decision thresholds in `thresholds.json` in its own folder:

    {"_doc": {...}, "default": {key: value, ...}, "sources": {"sim": {key: value, ...}}}

The block of the scene's `source` overrides the defaults key by key, then `--thresholds`
overrides (GenerateConfig.thresholds) override both. A family may declare a frozen dataclass
(`Family.thresholds_class`) whose fields are the known keys (fields typed `Band` are dead bands
[low, high], fields typed as a Mapping are per-task tables of numbers in [0, 1), `int` fields are
integers, every other field a non-negative number); without one the keys of the default block are
the known keys, typed by their default value. Keys starting with "_" are comments.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, field, fields, is_dataclass, make_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

Band = tuple[float, float]


class ThresholdsError(ValueError):
    """Bad thresholds data. The message names the file, the block and the key."""


def _kind(tp: Any) -> str:
    t = tp if isinstance(tp, str) else getattr(tp, "__name__", str(tp))
    if tp is Band or t == "Band":
        return "band"
    if "Mapping" in str(tp) or "dict" in str(tp):
        return "table"
    if tp is int or t == "int":
        return "int"
    return "number"


def _kinds(cls: type) -> dict[str, str]:
    return {f.name: _kind(f.type) for f in fields(cls) if f.name != "source"}


def _check_value(key: str, kind: str, value: Any, where: str) -> Any:
    if kind == "band":
        if (
            not isinstance(value, (list, tuple))
            or len(value) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
            or not 0 <= value[0] <= value[1]
        ):
            raise ThresholdsError(f"{where}: {key!r} must be a band [low, high] with 0 <= low <= high, got {value!r}")
        return (float(value[0]), float(value[1]))
    if kind == "table":
        if not isinstance(value, Mapping) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1 for v in value.values()
        ):
            raise ThresholdsError(f"{where}: {key!r} must map task names to numbers in [0, 1), got {value!r}")
        return {str(k): float(v) for k, v in value.items()}
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ThresholdsError(f"{where}: {key!r} must be a non-negative number, got {value!r}")
    return int(value) if kind == "int" else float(value)


def _merge(base: dict[str, Any], block: Any, kinds: Mapping[str, str], where: str) -> dict[str, Any]:
    if not isinstance(block, Mapping):
        raise ThresholdsError(f"{where}: must be a JSON object, got {type(block).__name__}")
    out = dict(base)
    for key, value in block.items():
        if key.startswith("_"):  # comments
            continue
        if key not in kinds:
            raise ThresholdsError(f"{where}: unknown key {key!r} (known: {', '.join(kinds)})")
        value = _check_value(key, kinds[key], value, where)
        if kinds[key] == "table":  # per-task entries override one by one
            value = {**out.get(key, {}), **value}
        out[key] = value
    return out


@lru_cache(maxsize=32)
def _read_json_cached(path: str, mtime_ns: int, size: int) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as e:
        raise ThresholdsError(f"{path}: cannot read ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise ThresholdsError(f"{path}: invalid JSON ({e})") from e


def read_json(path: str | Path) -> Any:
    """A JSON file, cached per (path, mtime, size): an edited file is read again."""
    try:
        st = Path(path).stat()
    except OSError as e:
        raise ThresholdsError(f"{path}: cannot read ({e.strerror})") from e
    return _read_json_cached(str(path), st.st_mtime_ns, st.st_size)


def _guess_kind(value: Any) -> str:
    if isinstance(value, list):
        return "band"
    if isinstance(value, Mapping):
        return "table"
    return "int" if isinstance(value, int) and not isinstance(value, bool) else "number"


@lru_cache(maxsize=32)
def _generic_class(name: str, keys: tuple[tuple[str, str], ...]) -> type:
    types = {"band": Band, "table": Mapping[str, float], "int": int, "number": float}
    cls = make_dataclass(
        f"{name}Thresholds",
        [(k, types[kind]) for k, kind in keys] + [("source", str, field(default="default", compare=False))],
        frozen=True,
    )
    return cls


def load_thresholds_file(
    path: str | Path,
    source: str = "default",
    overrides: Mapping[str, Any] | None = None,
    cls: type | None = None,
) -> Any:
    """Thresholds for scenes of `source` from one thresholds file: default <- sources[source] <- overrides.

    cls: the family's frozen dataclass (see the module doc), or None to derive one from the
    default block. Raises ThresholdsError naming the file, block and key on bad data.
    """
    p = str(path)
    data = read_json(p)
    if not isinstance(data, Mapping) or not isinstance(data.get("default"), Mapping):
        raise ThresholdsError(f"{p}: must be a JSON object with a 'default' block")
    if cls is None:
        keys = tuple((k, _guess_kind(v)) for k, v in data["default"].items() if not k.startswith("_"))
        cls = _generic_class(Path(p).parent.name.title().replace("_", ""), keys)
    if not is_dataclass(cls):
        raise ThresholdsError(f"{p}: thresholds class {cls!r} is not a dataclass")
    kinds = _kinds(cls)
    merged = _merge({}, data["default"], kinds, f"{p}: default")
    missing = [k for k in kinds if k not in merged]
    if missing:
        raise ThresholdsError(f"{p}: default: missing keys {missing}")
    sources = data.get("sources", {})
    if not isinstance(sources, Mapping):
        raise ThresholdsError(f"{p}: 'sources' must be a JSON object")
    if source in sources:
        merged = _merge(merged, sources[source], kinds, f"{p}: sources.{source}")
    if overrides:
        merged = _merge(merged, overrides, kinds, f"overrides for source {source!r}")
    return cls(**merged, source=source)


def thresholds_dict(th: Any) -> dict[str, Any]:
    """JSON-ready copy of a thresholds object (recorded in dataset.json)."""
    d = asdict(th)
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v) for k, v in d.items()}
