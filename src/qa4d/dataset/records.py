"""The qa4d dataset format: the sample record, its schema, and reading/writing `samples.jsonl`.

A dataset directory holds one directory per split (`train/`, `bench/`), each with `samples.jsonl`
(one record per line, JSON Schema in `sample.schema.json` next to this file; docs/sample.schema.json
is a copy checked by a test) and the media the records reference by paths relative to the dataset
root, plus `dataset.json` (generation settings and counts). Every stage reads and writes records
through this module: the engine (writing, audit), the exporters and the bench's qa4d loader.

Answer formats and their answer/meta contract (docs/samples.md): mc (options A.., answer a letter),
yesno, free, track (meta.query, meta.track), number and scalar (meta.value a number, meta.unit),
vector (meta.value [x, y, z], meta.unit), coord (meta.value [x, y], meta.space, meta.scale). The
formats are those of the registry (qa4d.answers): the schema's `answer_format` enum is replaced by
the registry's names when the validator is built, and each format checks the rules of its own the
schema cannot say (`AnswerFormat.check_record`: an mc answer is one of the options).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, TypedDict

import jsonschema

from qa4d._io import atomic_file, jsonl_line
from qa4d.answers import find_format, format_names, registry

SPLITS = ("train", "bench")
SAMPLES_FILE = "samples.jsonl"
SCHEMA_PATH = Path(__file__).with_name("sample.schema.json")
ANSWER_FORMATS = format_names()  # the registered formats when the dataset package was imported


class Record(TypedDict):
    """One sample record (one line of samples.jsonl); see sample.schema.json for each field."""

    id: str
    family: str
    task: str
    category: str
    scene_id: str
    media: list[str]
    frame_indices: list[int]
    timestamps: list[float]
    question: str
    options: dict[str, str] | None
    answer: str
    answer_format: str
    meta: dict[str, Any]


def load_schema() -> dict[str, Any]:
    """The sample record's JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


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


def _validator() -> jsonschema.protocols.Validator:
    return _validator_for(registry.version())


@lru_cache(maxsize=2)
def _validator_for(version: int) -> jsonschema.protocols.Validator:
    """The schema's validator with `answer_format` one of the formats registered now."""
    schema = load_schema()
    schema["properties"]["answer_format"]["enum"] = list(format_names())
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


def schema_errors(record: Any) -> list[str]:
    """The record's schema violations as "field: message" strings (empty when it is valid);
    for reports that list every bad record (qa4d audit)."""
    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in errors]


def _schema_error(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The most specific sub-error: oneOf/allOf wrap the one that says what is actually wrong."""
    best = jsonschema.exceptions.best_match([error])
    while best.context:
        best = jsonschema.exceptions.best_match(best.context)
    return best


def validate_record(record: Any, path: str | os.PathLike[str] = "<record>", line: int = 0,
                    media_paths: bool = True) -> dict[str, Any]:
    """Check one parsed record against the sample schema and the cross-field rules the schema
    cannot express (one frame index and timestamp per media item; an mc answer is one of the
    options; with `media_paths`, media are relative paths without '..'). Returns the record; raises
    RecordError naming the first bad field."""
    rid = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), str) else None
    errors = sorted(_validator().iter_errors(record), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        err = _schema_error(errors[0])
        raise RecordError(path, line, _field_name(err), err.message, rid)
    n = len(record["media"])
    for key in ("frame_indices", "timestamps"):
        if len(record[key]) != n:
            raise RecordError(path, line, key, f"has {len(record[key])} items but media has {n}", rid)
    problem = find_format(record["answer_format"]).check_record(record)
    if problem is not None:
        raise RecordError(path, line, problem[0], problem[1], rid)
    for i, m in enumerate(record["media"] if media_paths else ()):
        if os.path.isabs(m) or ".." in Path(m).parts:
            raise RecordError(path, line, f"media.{i}", f"{m!r} must be a path relative to the dataset root", rid)
    return record


def iter_samples(path: str | os.PathLike[str], errors: list[RecordError] | None = None,
                 media_paths: bool = True) -> Iterator[dict[str, Any]]:
    """Yield the validated records of one samples.jsonl, in file order.

    errors: None -> the first malformed record raises RecordError; a list -> malformed records are
    appended to it and skipped (a batch job reports them and goes on). Blank lines are ignored.
    media_paths=False leaves media paths to the caller (the bench reports a path leading outside
    the dataset when the record is asked, see qa4d.bench.media).
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
                validate_record(record, path, lineno, media_paths)
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
# writing


def write_samples(path: str | os.PathLike[str], records: Iterable[dict[str, Any]], validate: bool = True) -> int:
    """Write records as one samples.jsonl (atomically, through qa4d._io); returns the count.

    Streamed: each record is checked and written as it comes, so `records` may be a generator and
    the text of all records is never held at once. validate: check every record (RecordError names
    the record's position and field; the file is then left as it was)."""
    n = 0
    with atomic_file(path) as f:
        for n, r in enumerate(records, 1):
            if validate:
                validate_record(r, path, n)
            f.write((jsonl_line(r) + "\n").encode("utf-8"))
    return n
