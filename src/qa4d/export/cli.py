"""Write a qa4d dataset in a trainer's own format.

Reads DATASET/<split>/samples.jsonl (every record validated against the sample schema) and checks
that the media files they reference exist. Writes to OUT, per split (<name> defaults to qa4d):

  llava         <name>_<split>.json        JSON array: id, image (list), conversations human/gpt
  sharegpt      <name>_<split>.jsonl       messages (role/content) + images
  llamafactory  <name>_<split>.json        messages + images, and its entry in OUT/dataset_info.json
  qwen          <name>_<split>.jsonl       image + conversations (qwen-vl-finetune) and messages
                                           with {"type": "image"} content parts
  internvl      <name>_<split>.jsonl       id, image, conversations, and <name>_<split>_meta.json
                                           (root, annotation, data_augment, repeat_time, length)
  r4d-bench     test.json (bench split)    R4D-Bench's layout: id, benchmark, task, question, options,
                <split>.json (others)      answer (text), video (MP4 of the frames), som_image;
                                           multiple-choice records only (the others are counted and
                                           left out); evaluate with --media-root OUT

Image paths are absolute by default (--media absolute); with --media copy or symlink the images are
placed under OUT/media/ and rows use paths relative to OUT. The user turn is one image placeholder
per frame, the question, the options as "A. ..." lines and an answer-format instruction; the
assistant turn is "B. <option>" for multiple choice, else the answer. Every row is checked: its
image placeholders must equal its media files. A bad record is reported (file:line and field, or
record id) and left out, the rest is written, and the exit code is 1. See docs/exports.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from tqdm import tqdm

from qa4d._io import copy_file_atomic, resolve_inside, symlink_atomic
from qa4d.export.formats import ExportContext, ExportError, Exporter, available_formats, get_exporter
from qa4d.dataset import SPLITS, DatasetError, RecordError, iter_samples, iter_splits

MEDIA_MODES = ("absolute", "copy", "symlink")
MEDIA_DIR = "media"


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # split -> rows written
    errors: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records the format cannot hold


class MediaPlacer:
    """Maps a record's media paths (relative to the dataset root) to the paths rows carry, placing
    files under OUT/media/ for copy/symlink. Each file is placed once per export."""

    def __init__(self, dataset: Path, out_dir: Path, mode: str):
        if mode not in MEDIA_MODES:
            raise ValueError(f"media mode {mode!r}; known: {', '.join(MEDIA_MODES)}")
        self.root = dataset.resolve()
        self.out_dir = out_dir
        self.mode = mode
        self._done: dict[str, str] = {}

    def __call__(self, record_id: str, rel: str) -> str:
        if rel in self._done:
            return self._done[rel]
        try:
            src = resolve_inside(self.root, rel)
        except ValueError as e:
            raise ExportError(f"record {record_id!r}: media {e}") from None
        if not src.is_file():
            raise ExportError(f"record {record_id!r}: media file {src} does not exist")
        if self.mode == "absolute":
            mapped = str(src)
        else:
            dst = self.out_dir / MEDIA_DIR / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if self.mode == "copy":
                self._copy(src, dst)
            else:
                self._symlink(src, dst)
            mapped = f"{MEDIA_DIR}/{Path(rel).as_posix()}"
        self._done[rel] = mapped
        return mapped

    @staticmethod
    def _copy(src: Path, dst: Path) -> None:
        if dst.is_file() and not dst.is_symlink() and dst.stat().st_size == src.stat().st_size:
            return  # re-export into the same directory: the media are already there
        copy_file_atomic(src, dst)

    @staticmethod
    def _symlink(src: Path, dst: Path) -> None:
        if dst.is_symlink() and os.readlink(dst) == str(src):
            return
        symlink_atomic(src, dst)


def export_record(exporter: Exporter, record: Mapping[str, Any], place: MediaPlacer) -> dict[str, Any]:
    """One checked output row; raises ExportError naming the record id."""
    images = [place(record["id"], m) for m in record["media"]]
    row = exporter.row(record, images)
    exporter.check_row(record["id"], row, len(record["media"]))
    return row


def export_dataset(
    dataset: str | os.PathLike[str],
    fmt: str,
    out: str | os.PathLike[str],
    split: str = "train",
    media: str = "absolute",
    name: str = "qa4d",
) -> ExportResult:
    """Export the chosen split(s) of a dataset; bad records land in result.errors and are left out.
    Raises DatasetError/KeyError for a missing dataset, split or format."""
    exporter = get_exporter(fmt)
    dataset = Path(dataset)
    out_dir = Path(out).resolve()
    splits = list(iter_splits(dataset, split))  # fails early on a missing split
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = ExportContext(out_dir=out_dir, name=name, media=media)
    place = MediaPlacer(dataset, out_dir, media)
    result = ExportResult()
    for sp in splits:
        record_errors: list[RecordError] = []
        rows = []
        records = iter_samples(sp.samples_path, record_errors)
        for record in tqdm(records, desc=f"export {fmt} {sp.name}", unit="rec", file=sys.stderr, disable=None):
            why = exporter.left_out(record)
            if why is not None:
                reason = f"{sp.name}: {why}"
                result.skipped[reason] = result.skipped.get(reason, 0) + 1
                continue
            try:
                rows.append(export_record(exporter, record, place))
            except ExportError as exc:
                result.errors.append(f"{sp.samples_path}: {exc}")
        result.errors[:0] = [str(e) for e in record_errors]
        result.files += exporter.write(ctx, sp.name, rows)
        result.counts[sp.name] = len(rows)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="dataset directory (with train/ and bench/)")
    parser.add_argument("--format", required=True, choices=available_formats(), help="trainer format")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="export directory (created)")
    parser.add_argument("--split", default="train", choices=[*SPLITS, "all"], help="split(s) to export (default: train)")
    parser.add_argument(
        "--media",
        default="absolute",
        choices=MEDIA_MODES,
        help="image paths: absolute paths into DATASET (default), or copy/symlink images to OUT/media/ "
        "and use paths relative to OUT",
    )
    parser.add_argument("--name", default="qa4d", help="dataset name in file names and registry entries (default: qa4d)")


def run(args: argparse.Namespace) -> int:
    try:
        result = export_dataset(args.dataset, args.format, args.out, args.split, args.media, args.name)
    except (DatasetError, KeyError, ExportError) as exc:
        print(f"qa4d export: error: {exc}", file=sys.stderr)
        return 2
    for err in result.errors:
        print(f"qa4d export: bad record: {err}", file=sys.stderr)
    for reason, n in result.skipped.items():
        print(f"left out {n} record(s): {reason}")
    for sp, n in result.counts.items():
        print(f"{sp}: {n} rows")
    for f in dict.fromkeys(result.files):
        print(f"wrote {f}")
    if result.errors:
        print(f"qa4d export: {len(result.errors)} record(s) left out", file=sys.stderr)
        return 1
    return 0
