"""Training-export formats: one module per trainer ecosystem, registered with a decorator.

    @register_exporter("llava")
    class LLaVAExporter(Exporter): ...

Adding a format is one new file in this package. An exporter turns one sample record (plus the
image paths as the trainer will see them) into one output row, says how many image placeholders and
images a row holds (the export checks they agree for every row), and writes a split's rows in its
ecosystem's file layout.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from qa4d._io import write_text_atomic
from qa4d.export.records import image_lines, render_answer, render_prompt

T = TypeVar("T")

EXPORTERS: dict[str, type["Exporter"]] = {}

IMAGE_TOKEN = "<image>"


class ExportError(ValueError):
    """A record that cannot be exported; the message names the record id."""


@dataclass(frozen=True)
class ExportContext:
    """What an exporter needs to know about the export as a whole.

    out_dir: the export directory (absolute). name: dataset name used in registry files
    (LLaMA-Factory's dataset_info.json, InternVL's meta file). media: 'absolute', 'copy' or
    'symlink' (with copy/symlink, image paths in rows are relative to out_dir).
    """

    out_dir: Path
    name: str = "qa4d"
    media: str = "absolute"

    def entry_name(self, split: str) -> str:
        return f"{self.name}_{split}"


class Exporter:
    """Base class. Subclasses set `name` (via the decorator) and implement `row` and `write`."""

    name: str = ""
    placeholder: str = IMAGE_TOKEN
    answer_formats: tuple[str, ...] = ()   # the answer formats the format can hold (empty: all)
    videos_only: bool = False              # True: image sets (meta.media_kind "images") are left out

    # -- per record ------------------------------------------------------------------------
    def left_out(self, record: Mapping[str, Any]) -> str | None:
        """Why a well-formed record has no place in this format (None: it has one); such records
        are counted as left out, not reported as bad."""
        if self.answer_formats and record.get("answer_format") not in self.answer_formats:
            return f"answer_format {record.get('answer_format')} ({self.name} holds {', '.join(self.answer_formats)} only)"
        if self.videos_only and (record.get("meta") or {}).get("media_kind") == "images":
            return f"image sets ({self.name} holds videos only)"
        return None

    def user_text(self, record: Mapping[str, Any]) -> str:
        """Image lines (one placeholder each, in media order) then the rendered prompt."""
        return "\n".join(image_lines(record, self.placeholder, self.name) + [render_prompt(record)])

    def assistant_text(self, record: Mapping[str, Any]) -> str:
        return render_answer(record)

    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        """Named counts of image references in a row; every count must equal len(row_images)."""
        raise NotImplementedError

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        raise NotImplementedError

    def check_row(self, record_id: str, row: Mapping[str, Any], n_media: int) -> None:
        """Raise ExportError unless every placeholder count equals the number of media files."""
        n_images = len(self.row_images(row))
        if n_images != n_media:
            raise ExportError(f"record {record_id!r}: {self.name} row lists {n_images} images but the record has {n_media} media files")
        for what, count in self.placeholder_counts(row).items():
            if count != n_media:
                raise ExportError(
                    f"record {record_id!r}: {count} {what} but {n_media} media files "
                    f"(does the question text contain {self.placeholder!r}?)"
                )

    # -- per split -------------------------------------------------------------------------
    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        """Write a split's rows; return the files written (registry files included)."""
        raise NotImplementedError


def register_exporter(name: str) -> Callable[[type[T]], type[T]]:
    def deco(cls: type[T]) -> type[T]:
        if name in EXPORTERS and EXPORTERS[name] is not cls:
            raise ValueError(f"exporter {name!r} is registered twice ({EXPORTERS[name].__module__}, {cls.__module__})")
        EXPORTERS[name] = cls  # type: ignore[assignment]
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def _import_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def available_formats() -> list[str]:
    _import_all()
    return sorted(EXPORTERS)


def get_exporter(name: str) -> Exporter:
    _import_all()
    try:
        return EXPORTERS[name]()
    except KeyError:
        raise KeyError(f"unknown export format {name!r}; known: {', '.join(sorted(EXPORTERS))}") from None


# -- shared writers ----------------------------------------------------------------------------


def dumps_row(row: Any) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(", ", ": "))


def write_json_list(path: Path, rows: Sequence[Any]) -> None:
    """A JSON array with one row per line: valid JSON for json.load, still diff- and grep-able."""
    body = ",\n".join(dumps_row(r) for r in rows)
    write_text_atomic(path, "[\n" + body + "\n]\n" if rows else "[]\n")


def write_jsonl(path: Path, rows: Sequence[Any]) -> None:
    write_text_atomic(path, "".join(dumps_row(r) + "\n" for r in rows))


def update_json_registry(path: Path, entries: Mapping[str, Any]) -> None:
    """Merge entries into a JSON object file (creating it), so exporting train and bench into the
    same directory one after the other keeps both. Existing keys keep their position."""
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ExportError(f"{path}:{exc.lineno}: existing registry file is not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise ExportError(f"{path}: existing registry file must hold a JSON object")
    data.update(entries)
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
