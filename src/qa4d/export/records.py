"""Reading a qa4d dataset through its files, and the model-facing text of a sample.

A dataset directory holds one directory per split (`train/`, `bench/`), each with `samples.jsonl`
(one record per line, JSON Schema in `qa4d/engine/sample.schema.json`) and the media the records
reference by paths relative to the dataset root. The export stage reads datasets only through these
files, never through `qa4d.engine`.

`render_prompt` and `render_answer` produce the user and assistant text every training export uses;
their wording lives in `templates/prompts.json`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import jsonschema

from qa4d._io import write_bytes_atomic, write_text_atomic  # noqa: F401 (re-exported for export/)

SPLITS = ("train", "bench")
SAMPLES_FILE = "samples.jsonl"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "engine" / "sample.schema.json"
PROMPTS_PATH = Path(__file__).resolve().parent / "templates" / "prompts.json"


class RecordError(ValueError):
    """A malformed sample record. The message names the file, the line, the field and the problem."""

    def __init__(self, path: str | os.PathLike[str], line: int, field: str, problem: str, record_id: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        self.record_id = record_id
        rid = f" (id {record_id!r})" if record_id else ""
        super().__init__(f"{self.path}:{line}{rid}: field {field!r}: {problem}")


class DatasetError(ValueError):
    """A dataset directory that cannot be read (missing split, missing samples file)."""


# ---------------------------------------------------------------------------------------------
# reading


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _field_name(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # the missing property is the field the user must fix, not its parent
        missing = error.message.split("'")[1] if "'" in error.message else ""
        parts.append(missing)
    elif error.validator == "additionalProperties" and "'" in error.message:
        parts.append(error.message.split("'")[1])
    return ".".join(p for p in parts if p) or "<record>"


def _schema_error(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific sub-error: oneOf/allOf wrap the one that says what is actually wrong."""
    best = jsonschema.exceptions.best_match([error])
    while best.context:
        best = jsonschema.exceptions.best_match(best.context)
    return best


def validate_record(record: Any, path: str | os.PathLike[str] = "<record>", line: int = 0) -> dict[str, Any]:
    """Check one parsed record against the sample schema and the cross-field rules the schema
    cannot express (one frame index and timestamp per media item; an mc answer is one of the
    options). Returns the record; raises RecordError naming the first bad field."""
    rid = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        err = _schema_error(errors[0])
        raise RecordError(path, line, _field_name(err), err.message, rid)
    n = len(record["media"])
    for key in ("frame_indices", "timestamps"):
        if len(record[key]) != n:
            raise RecordError(path, line, key, f"has {len(record[key])} items but media has {n}", rid)
    if record["answer_format"] == "mc" and record["answer"] not in record["options"]:
        raise RecordError(path, line, "answer", f"{record['answer']!r} is not one of the options {sorted(record['options'])}", rid)
    for i, m in enumerate(record["media"]):
        if os.path.isabs(m) or ".." in Path(m).parts:
            raise RecordError(path, line, f"media.{i}", f"{m!r} must be a path relative to the dataset root", rid)
    return record


def iter_samples(path: str | os.PathLike[str], errors: list[RecordError] | None = None) -> Iterator[dict[str, Any]]:
    """Yield the validated records of one samples.jsonl, in file order.

    errors: None -> the first malformed record raises RecordError; a list -> malformed records are
    appended to it and skipped (a batch job reports them and goes on). Blank lines are ignored.
    """
    path = Path(path)
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RecordError(path, lineno, "<line>", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
                validate_record(record, path, lineno)
                if record["id"] in seen:
                    raise RecordError(path, lineno, "id", f"duplicate of line {seen[record['id']]}", record["id"])
                seen[record["id"]] = lineno
            except RecordError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue
            yield record


def read_samples(path: str | os.PathLike[str], errors: list[RecordError] | None = None) -> list[dict[str, Any]]:
    """All validated records of one samples.jsonl (see iter_samples for `errors`)."""
    return list(iter_samples(path, errors))


@dataclass(frozen=True)
class Split:
    """One split of a dataset: `dir` holds `samples.jsonl`; media paths are relative to `root`."""

    name: str
    root: Path
    dir: Path

    @property
    def samples_path(self) -> Path:
        return self.dir / SAMPLES_FILE


def resolve_splits(which: str | Iterable[str] = "all") -> tuple[str, ...]:
    """'all' -> every split; 'train' -> ('train',); an iterable is checked name by name."""
    names = SPLITS if which == "all" else ((which,) if isinstance(which, str) else tuple(which))
    for n in names:
        if n not in SPLITS:
            raise DatasetError(f"unknown split {n!r}; known: {', '.join(SPLITS)}, all")
    return tuple(names)


def iter_splits(dataset: str | os.PathLike[str], which: str | Iterable[str] = "all") -> Iterator[Split]:
    """The splits of a dataset directory, in the order train, bench.

    With which='all' a split without samples.jsonl is left out (a dataset may be bench-only); a split
    asked for by name must exist. Raises DatasetError when nothing can be read.
    """
    root = Path(dataset)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a dataset directory")
    names = resolve_splits(which)
    found = 0
    for name in names:
        split = Split(name, root, root / name)
        if not split.samples_path.is_file():
            if which != "all":
                raise DatasetError(f"{split.samples_path}: missing (split {name!r} was asked for)")
            continue
        found += 1
        yield split
    if not found:
        raise DatasetError(f"{root}: no split has a {SAMPLES_FILE} (looked for {', '.join(f'{n}/{SAMPLES_FILE}' for n in names)})")


def read_dataset_info(dataset: str | os.PathLike[str]) -> dict[str, Any]:
    """DATASET/dataset.json (generation settings and counts), or {} when the dataset has none."""
    p = Path(dataset) / "dataset.json"
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{p}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{p}: top level must be an object, got {type(data).__name__}")
    return data


# ---------------------------------------------------------------------------------------------
# model-facing text


@lru_cache(maxsize=1)
def prompt_templates() -> dict[str, Any]:
    return json.loads(PROMPTS_PATH.read_text(encoding="utf-8"))


def sorted_options(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(letter, text) pairs of an mc record in letter order; [] for other formats."""
    opts = record.get("options") or {}
    return sorted(opts.items())


def render_prompt(record: Mapping[str, Any]) -> str:
    """The user text of a sample without image placeholders: the question, the options as
    'A. ...' lines for multiple choice, then a one-line instruction for the answer format."""
    t = prompt_templates()
    fmt = record["answer_format"]
    lines = [record["question"].strip()]
    if fmt == "mc":
        lines += [t["option_line"].format(letter=k, text=v) for k, v in sorted_options(record)]
    lines.append(t["instruction"][fmt])
    return "\n".join(lines)


def render_answer(record: Mapping[str, Any]) -> str:
    """The assistant text of a sample: 'B. <option text>' for multiple choice, else the answer."""
    t = prompt_templates()
    fmt = record["answer_format"]
    if fmt == "mc":
        return t["answer"]["mc"].format(letter=record["answer"], text=record["options"][record["answer"]])
    return t["answer"][fmt].format(answer=record["answer"])


def image_lines(record: Mapping[str, Any], placeholder: str, style: str = "default") -> list[str]:
    """One line per media item, e.g. 'Frame 2: <image>' (templates/prompts.json "image_line";
    `style` picks a per-format override when the file has one)."""
    tpl = prompt_templates()["image_line"].get(style) or prompt_templates()["image_line"]["default"]
    return [
        tpl.format(placeholder=placeholder, n=i + 1, frame=fr, t=ts)
        for i, (fr, ts) in enumerate(zip(record["frame_indices"], record["timestamps"]))
    ]


# ---------------------------------------------------------------------------------------------
# atomic writes


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2) -> None:
    """JSON text (UTF-8, `indent`), written with qa4d._io's atomic write."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n")
