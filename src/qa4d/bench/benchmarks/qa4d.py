"""qa4d's own benchmarks: a generated split (`DATASET/bench`) read from its `samples.jsonl`.

Annotations: the split directory or its `samples.jsonl` (one record per line, read and validated
by `qa4d.dataset`, schema `dataset/sample.schema.json`). Media paths are relative to the dataset root, the parent of the split
directory; `--media-root` overrides that root. A media path that leads outside the root is an error
of its record (reported when the record is asked; the run goes on), never read. Answer formats: `mc` (option letter), `yesno`,
`free` (exact match after normalisation) and `track` (TAP-Vid metrics against `meta.track`; the
query frame is not scored). Track points are named as the question names them (frame k = the k-th
image shown) with x, y normalised to [0, 1] (`meta["coords"] = "unit"`), which is what the prompt's
instruction asks for. number/scalar/vector/coord records are scored against `meta.value`
(coord: in `meta.space`, whose full image width is `meta.scale`): each format turns its record into
the item's answer (`AnswerFormat.bench_fields`, qa4d.answers). Report groupings: the question family.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from qa4d.answers import FieldError, get_format
from qa4d.answers.forms import AnswerForm, answer_form, family_wording
from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    format_options,
    item_unit,
)
from qa4d.bench.media import resolve_media
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem
from qa4d.dataset import RecordError, iter_samples


def samples_path(annotations: Path) -> Path:
    """The samples.jsonl of a split directory, or the file itself."""
    p = Path(annotations)
    return p / "samples.jsonl" if p.is_dir() else p


@register_benchmark("qa4d")
class QA4D(Benchmark):
    # All of a sample's images: its questions and track answers name frames by their position
    # among them ("frame 5" = the fifth image), so showing a subset would rename them.
    default_frames = None
    media_kind = "images"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        return list(self.iter_items(annotations, media_root))

    def iter_items(self, annotations: Path, media_root: Path | None = None) -> Iterator[BenchItem]:
        """The records of samples.jsonl as items, one line at a time (a duplicate id raises when it
        is reached, naming both records)."""
        path = samples_path(annotations)
        dataset_root = str(path.resolve().parent.parent)
        seen: dict[str, int] = {}
        for index, rec in enumerate(_records(path)):  # validated against the sample schema (qa4d.dataset)
            rid, task, question, fmt = rec["id"], rec["task"], rec["question"], rec["answer_format"]
            media = rec["media"]
            meta = dict(rec.get("meta") or {})
            where = f"id {rid}"
            try:  # the record's answer as an item holds it (AnswerFormat.bench_fields)
                answer, options = get_format(fmt).bench_fields(rec, meta)
            except FieldError as e:
                raise BenchmarkFormatError(path, where, e.field, e.problem) from None
            meta.update(frame_indices=rec.get("frame_indices"), timestamps=rec.get("timestamps"),
                        scene_id=rec.get("scene_id"), dataset_root=dataset_root)
            family = str(rec.get("family") or "")
            if rid in seen:
                raise BenchmarkFormatError(path, index, "id", f"duplicate id {rid!r} (first at record {seen[rid]})")
            seen[rid] = index
            yield BenchItem(
                id=rid,
                benchmark="qa4d",
                task=task,
                question=question,
                answer=answer,
                answer_format=fmt,
                options=options,
                category=rec.get("category"),
                media=[str(m) for m in media],
                media_kind="images",
                groups={"family": family} if family else {},
                meta=meta,
            )

    def _root(self, item: BenchItem, media_root: Path | None) -> Path:
        return Path(media_root) if media_root is not None else Path(item.meta.get("dataset_root", "."))

    def media_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        """The record's media inside the dataset (or media) root; an entry that leads outside it
        (absolute, `..`, a symlink out) raises MediaError naming the record and is never read."""
        return resolve_media(item, item.media, self._root(item, media_root), "media")

    def prefix_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        return resolve_media(item, item.prefix_images, self._root(item, media_root), "prefix_images")

    def answer_form(self, item: BenchItem, mode: str = "do") -> AnswerForm:
        """The record's own answer form (qa4d.answers.forms.record_form: its family's wording, e.g.
        MultiSPA's value in backticks), the one the trainer exports ask with too."""
        fmt = get_format(item.answer_format)
        return answer_form(item.answer_format, mode, unit=item_unit(item) if fmt.has_unit else None,
                           coords=item.meta.get("coords") if fmt.has_coords else None,
                           wording=family_wording(item.groups.get("family"), item.answer_format))

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        parts = []
        ts = item.meta.get("timestamps")
        if (isinstance(ts, list) and ts and len(ts) == len(item.media) and (frames is None or frames >= len(ts))
                and item.meta.get("media_kind") != "images" and not item.meta.get("times_hidden")):
            # frames are not evenly spaced in general: say when each was taken (only when all are
            # shown; image sets such as MultiSPA's Image-1, Image-2 are not a clip: no times; a
            # record whose answer is a time, meta.times_hidden, never shows them)
            parts.append("The frames were taken at " + ", ".join(f"{float(t):.2f}" for t in ts) + " seconds.")
        parts.append(item.question.strip())
        if item.options:
            parts.append(format_options(item.options))
        parts.append(self.answer_form(item, mode).instruction)
        return "\n".join(parts)


def _records(path: Path) -> Iterator[dict]:
    """The records of samples.jsonl one at a time; a bad record or an unreadable file is a
    BenchmarkFormatError naming it."""
    try:
        yield from iter_samples(path, media_paths=False)
    except RecordError as e:
        raise BenchmarkFormatError(path, f"line {e.line}", e.field, e.problem) from None
    except OSError as e:
        raise BenchmarkFormatError(path, None, None, f"cannot read ({e.strerror})") from None
