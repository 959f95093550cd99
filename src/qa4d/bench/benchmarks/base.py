"""The benchmark interface every loader implements, and the helpers they share.

A benchmark turns its published annotation files into `BenchItem`s (`load`), writes the prompt its
protocol prescribes (`build_prompt`, mode "do" = direct output or "cot" = chain of thought), names
its report groupings (`groupings`) and lists missing media before any model is called
(`check_media`). `answer_form` says what the prompt asks the reply to look like (an `AnswerForm`
of qa4d.answers.forms: where the answer goes, its unit and coordinate space) and the instruction
text is rendered from it, so the form is stated once; the `obedient` baseline writes that form and
must score 1.0.
Subclasses register themselves with `@register_benchmark("name")`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from qa4d.answers import get_format
from qa4d.answers.forms import (  # noqa: F401 (re-exported for the loaders)
    ANSWER_PLACES,
    COORD_SPACES,
    FINAL_LINE,
    PROMPT_MODES,
    AnswerForm,
    answer_form,
    check_mode,
    unit_name,
)
from qa4d.bench.media import MediaError, resolve_media
from qa4d.bench.types import BenchItem

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
    return list(iter_jsonl(path))


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed object) for each non-empty line, read one line at a time."""
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise BenchmarkFormatError(path, None, None, "file not found") from None
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise BenchmarkFormatError(path, f"line {lineno}", None, f"not valid JSON ({e.msg})") from None
            yield lineno, rec


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


# ----------------------------------------------------------------------------- answer forms
# AnswerForm, answer_form and the instruction texts live with the answer formats (qa4d.answers.forms,
# instructions.json); they are imported here for the loaders.


def item_unit(item: BenchItem) -> str | None:
    """The unit a number / scalar / vector item asks for: the question's unit if the loader knows
    it (`meta["response_unit"]`), else the ground truth's (`meta["unit"]`), else None."""
    return item.meta.get("response_unit") or item.meta.get("unit")


class Benchmark:
    """Base class: subclasses set `name` (via the registry), `default_frames`, and implement `load`."""

    name: str = ""
    default_frames: int | None = 8  # frames shown per item unless --frames says otherwise; None: all
    media_kind: str = "video"

    # ---- loading
    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        raise NotImplementedError

    def iter_items(self, annotations: Path, media_root: Path | None = None) -> Iterator[BenchItem]:
        """The items of `load`, one at a time, in the same order with the same errors (raised when
        the bad record is reached). Loaders of line-based files override this to hold one record
        at a time (`qa4d eval` reads the items again per pass instead of keeping them); the default
        loads the whole file."""
        yield from self.load(annotations, media_root)

    # ---- prompting
    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        """The text that follows the frames. `frames`: how many frames the model is shown."""
        check_mode(mode)
        parts = [item.question.strip()]
        if item.options:
            parts.append(format_options(item.options))
        parts.append(self.answer_form(item, mode).instruction)
        return "\n".join(parts)

    def answer_form(self, item: BenchItem, mode: str = "do") -> AnswerForm:
        """The answer form the prompt of `item` asks for in `mode`. Its `instruction` is the text
        `build_prompt` shows; the scorer reads exactly this form. Default: qa4d's generic wording,
        the unit from `item_unit`, coordinates in the item's own space (`meta["coords"]`)."""
        fmt = get_format(item.answer_format)
        unit = item_unit(item) if fmt.has_unit else None
        coords = item.meta.get("coords") if fmt.has_coords else None
        return answer_form(item.answer_format, mode, unit=unit, coords=coords)

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
        """The media frames are sampled from (`item.media`, resolved). With a media root, every
        entry must stay inside it (MediaError naming the item otherwise); without one, entries are
        taken as written (relative to the working directory)."""
        return resolve_media(item, item.media, media_root, "media")

    def prefix_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        """The images shown before the sampled frames (`item.prefix_images`, resolved like media)."""
        return resolve_media(item, item.prefix_images, media_root, "prefix_images")

    def check_media(self, items: Iterable[BenchItem], media_root: Path | None) -> list[str]:
        """Paths of missing media files (prefix images, then sampled media), each once, in item order
        (empty when all exist). An item whose paths leave the media root is not listed: it fails on
        its own when asked (its MediaError is recorded), and the run goes on. `items` is read once
        and only the missing paths are remembered (memory does not grow with the benchmark)."""
        missing: dict[str, None] = {}
        for item in items:
            try:
                paths = [*self.prefix_paths(item, media_root), *self.media_paths(item, media_root)]
            except MediaError:
                continue
            for p in paths:
                key = str(p)
                if key not in missing and not p.exists():
                    missing[key] = None
        return list(missing)


def check_unique_ids(items: list[BenchItem], path: Path | str) -> None:
    if len({it.id for it in items}) == len(items):  # the common case, checked at C speed
        return
    seen: dict[str, int] = {}
    for i, it in enumerate(items):
        if it.id in seen:
            raise BenchmarkFormatError(path, i, "id", f"duplicate id {it.id!r} (first at record {seen[it.id]})")
        seen[it.id] = i
