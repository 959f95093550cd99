"""qa4d's own benchmarks: a generated split (`DATASET/bench`) read from its `samples.jsonl`.

Annotations: the split directory or its `samples.jsonl` (one record per line, read and validated
by `qa4d.dataset`, schema `dataset/sample.schema.json`). Media paths are relative to the dataset root, the parent of the split
directory; `--media-root` overrides that root. A media path that leads outside the root is an error
of its record (reported when the record is asked; the run goes on), never read. Answer formats: `mc` (option letter), `yesno`,
`free` (exact match after normalisation) and `track` (TAP-Vid metrics against `meta.track`; the
query frame is not scored). Track points are named as the question names them (frame k = the k-th
image shown) with x, y normalised to [0, 1] (`meta["coords"] = "unit"`), which is what the prompt's
instruction asks for. number/scalar/vector/coord records are scored against `meta.value`
(coord: in `meta.space`, whose full image width is `meta.scale`). Report groupings: the question family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    format_options,
)
from qa4d.bench.media import resolve_media
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem
from qa4d.dataset import ANSWER_FORMATS, RecordError, iter_samples

FORMATS = ANSWER_FORMATS


def samples_path(annotations: Path) -> Path:
    """The samples.jsonl of a split directory, or the file itself."""
    p = Path(annotations)
    return p / "samples.jsonl" if p.is_dir() else p


def _named_by_position(point: dict, frame_indices: list, path: Path, where: str) -> dict:
    """A track point with `frame` renamed from the scene's frame index to the 1-based position of
    its image in the sample's media (the name the question uses)."""
    out = dict(point)
    if "media" in point:
        out["frame"] = int(point["media"]) + 1
    elif point.get("frame") in frame_indices:
        out["frame"] = frame_indices.index(point["frame"]) + 1
    else:
        raise BenchmarkFormatError(path, where, "meta.track", f"frame {point.get('frame')!r} is not among frame_indices")
    out["scene_frame"] = point.get("frame")
    return out


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
            rid, task, question, answer, fmt = rec["id"], rec["task"], rec["question"], rec["answer"], rec["answer_format"]
            media = rec["media"]
            meta = dict(rec.get("meta") or {})
            where = f"id {rid}"
            options = rec.get("options")
            if fmt == "mc":
                options = {str(k): str(v) for k, v in options.items()}
            elif fmt == "track":
                # Questions and answers name frames by their position among the images shown
                # ("frame 3" = the third image); score against the same names.
                frame_indices = rec.get("frame_indices") or []
                meta["track"] = [_named_by_position(p, frame_indices, path, where) for p in meta["track"]]
                meta["query"] = _named_by_position(meta["query"], frame_indices, path, where)
                # Coordinates are normalised to [0, 1] ("unit", what the prompt asks for): the unit
                # square is the frame TAP-Vid's 256-px thresholds are scaled from.
                meta["coords"] = "unit"
                meta["image_size"] = [1.0, 1.0]
            elif fmt in ("number", "scalar"):
                answer = f"{float(meta['value']):g}"  # scored against meta.value, in meta.unit
            elif fmt in ("vector", "coord"):
                answer = json.dumps([float(v) for v in meta["value"]])
                if fmt == "coord":  # meta.value in meta.space, whose full width/height is meta.scale
                    meta["coord_scale"] = float(meta["scale"])
                    meta["coords"] = meta["space"]
                    meta.setdefault("image_size", [float(meta["scale"])] * 2)
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
                options=options if fmt == "mc" else None,
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

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        parts = []
        ts = item.meta.get("timestamps")
        if (isinstance(ts, list) and ts and len(ts) == len(item.media) and (frames is None or frames >= len(ts))
                and item.meta.get("media_kind") != "images"):
            # frames are not evenly spaced in general: say when each was taken (only when all are
            # shown; image sets such as MultiSPA's Image-1, Image-2 are not a clip: no times)
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
