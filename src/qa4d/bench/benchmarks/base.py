"""The benchmark interface every loader implements, and the helpers they share.

A benchmark turns its published annotation files into `BenchItem`s (`load`), writes the prompt its
protocol prescribes (`build_prompt`, mode "do" = direct output or "cot" = chain of thought), names
its report groupings (`groupings`) and lists missing media before any model is called
(`check_media`). Subclasses register themselves with `@register_benchmark("name")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa4d.bench.types import BenchItem

PROMPT_MODES = ("do", "cot")
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class BenchmarkFormatError(ValueError):
    """An annotation file does not have the shape its benchmark publishes."""

    def __init__(self, path: Path | str, index: int | str | None, field: str | None, problem: str):
        where = f"{path}"
        if index is not None:
            where += f", record {index}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
        self.path, self.index, self.field, self.problem = str(path), index, field, problem


def require(record: Any, field: str, path: Path | str, index: int | str, types: type | tuple = object) -> Any:
    """record[field], checked for presence and type; raises BenchmarkFormatError otherwise."""
    if not isinstance(record, dict):
        raise BenchmarkFormatError(path, index, None, f"expected a JSON object, got {type(record).__name__}")
    if field not in record or record[field] is None:
        raise BenchmarkFormatError(path, index, field, "missing")
    value = record[field]
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        names = "/".join(t.__name__ for t in _as_tuple(types))
        raise BenchmarkFormatError(path, index, field, f"expected {names}, got {type(value).__name__} {value!r:.60}")
    return value


def _as_tuple(types: type | tuple) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise BenchmarkFormatError(path, None, None, "file not found") from None
    except json.JSONDecodeError as e:
        raise BenchmarkFormatError(path, None, None, f"not valid JSON (line {e.lineno}: {e.msg})") from None


def read_jsonl(path: Path) -> list[tuple[int, Any]]:
    """(1-based line number, parsed object) for each non-empty line."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    out.append((lineno, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise BenchmarkFormatError(path, f"line {lineno}", None, f"not valid JSON ({e.msg})") from None
    except FileNotFoundError:
        raise BenchmarkFormatError(path, None, None, "file not found") from None
    return out


def letter_options(options: list | dict, path: Path | str, index: int | str, field: str = "options") -> dict[str, str]:
    """Options as {"A": text, ...}: a dict is kept (keys upper-cased); a list is lettered in
    order, stripping an existing "A. " / "(A) " prefix."""
    if isinstance(options, dict):
        out = {str(k).strip().upper(): str(v) for k, v in options.items()}
    elif isinstance(options, list):
        out = {}
        for i, opt in enumerate(options):
            letter = OPTION_LETTERS[i]
            text = str(opt).strip()
            for prefix in (f"{letter}. ", f"{letter}.", f"({letter}) ", f"{letter}) ", f"{letter}: "):
                if text.startswith(prefix):
                    text = text[len(prefix):].strip()
                    break
            out[letter] = text
    else:
        raise BenchmarkFormatError(path, index, field, f"expected a list or an object, got {type(options).__name__}")
    if len(out) < 2:
        raise BenchmarkFormatError(path, index, field, f"needs at least 2 options, got {len(out)}")
    bad = [k for k in out if k not in OPTION_LETTERS]
    if bad:
        raise BenchmarkFormatError(path, index, field, f"option keys must be letters, got {bad}")
    return out


def letter_of(text: Any, options: dict[str, str], path: Path | str, index: int | str, field: str) -> str:
    """The letter whose option text equals `text` (compared as stripped strings, case-insensitive)."""
    want = str(text).strip().lower()
    hits = [k for k, v in options.items() if str(v).strip().lower() == want]
    if not hits:
        raise BenchmarkFormatError(path, index, field, f"answer {text!r} is not one of the options {list(options.values())}")
    return hits[0]


def format_options(options: dict[str, str], style: str = "{k}. {v}") -> str:
    return "\n".join(style.format(k=k, v=v) for k, v in options.items())


# Generic instructions for benchmarks whose protocol does not prescribe its own wording.
GENERIC_INSTRUCTIONS = {
    ("mc", "do"): "Answer with the option's letter from the given choices directly.",
    ("mc", "cot"): ("Think step by step, then end with the line 'Therefore, the final answer is: X', "
                    "where X is the letter of one option."),
    ("yesno", "do"): "Answer with yes or no only.",
    ("yesno", "cot"): "Think step by step, then end with the line 'Therefore, the final answer is: yes' or '... no'.",
    ("number", "do"): "Answer with a single number only.",
    ("number", "cot"): "Think step by step, then end with the line 'Therefore, the final answer is: N', where N is a number.",
    ("free", "do"): "Answer with a short phrase only.",
    ("free", "cot"): "Think step by step, then end with the line 'Therefore, the final answer is: ...'.",
    ("track", "do"): ("Answer with a JSON list of objects {\"frame\": k, \"x\": px, \"y\": py, \"visible\": true/false}, "
                      "one per frame, in pixel coordinates of the frames shown."),
    ("track", "cot"): ("Think step by step, then end with a JSON list of objects {\"frame\": k, \"x\": px, \"y\": py, "
                       "\"visible\": true/false}, one per frame."),
}
for _m in PROMPT_MODES:
    for _f in ("scalar", "vector", "coord"):
        GENERIC_INSTRUCTIONS[(_f, _m)] = ("Give your answer inside backticks, e.g. `value`." if _m == "do" else
                              "Think step by step, then give the final answer inside backticks, e.g. `value`.")


class Benchmark:
    """Base class: subclasses set `name` (via the registry), `default_frames`, and implement `load`."""

    name: str = ""
    default_frames: int = 8
    media_kind: str = "video"

    # ---- loading
    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        raise NotImplementedError

    # ---- prompting
    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        """The text that follows the frames. `frames`: how many frames the model is shown."""
        check_mode(mode)
        parts = [item.question.strip()]
        if item.options:
            parts.append(format_options(item.options))
        parts.append(GENERIC_INSTRUCTIONS[(item.answer_format, mode)])
        return "\n".join(parts)

    # ---- ids
    def id_aliases(self, items: list[BenchItem]) -> dict[str, list[str]]:
        """Other names predictions may use for items, {alias: [item ids it can name]}; scoring
        accepts an alias that names exactly one item and reports one that names several as
        ambiguous. Default: none (only `BenchItem.id`)."""
        return {}

    # ---- reporting
    def groupings(self, item: BenchItem) -> dict[str, str]:
        """Extra report groupings of an item, {grouping name: group}; metrics.json gets
        `by_<grouping name>` for each, plus a flat `by_group`."""
        return dict(item.groups)

    # ---- media
    def media_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        """The media frames are sampled from (`item.media`, resolved)."""
        root = Path(media_root) if media_root is not None else Path(".")
        return [p if (p := Path(m)).is_absolute() else root / p for m in item.media]

    def prefix_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        """The images shown before the sampled frames (`item.prefix_images`, resolved)."""
        root = Path(media_root) if media_root is not None else Path(".")
        return [p if (p := Path(m)).is_absolute() else root / p for m in item.prefix_images]

    def check_media(self, items: list[BenchItem], media_root: Path | None) -> list[str]:
        """Paths of missing media files (prefix images, then sampled media), each once, in item order
        (empty when all exist)."""
        missing: list[str] = []
        seen: set[str] = set()
        for item in items:
            for p in [*self.prefix_paths(item, media_root), *self.media_paths(item, media_root)]:
                key = str(p)
                if key in seen:
                    continue
                seen.add(key)
                if not p.exists():
                    missing.append(key)
        return missing


def check_mode(mode: str) -> None:
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode must be one of {PROMPT_MODES}, got {mode!r}")


def check_unique_ids(items: list[BenchItem], path: Path | str) -> None:
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.id in seen:
            raise BenchmarkFormatError(path, i, "id", f"duplicate id {it.id!r} (first at record {seen[it.id]})")
        seen[it.id] = i
