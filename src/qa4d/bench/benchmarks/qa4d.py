"""qa4d's own benchmarks: a generated split (`DATASET/bench`) read from its `samples.jsonl`.

Annotations: the split directory or its `samples.jsonl` (one record per line, see
`engine/sample.schema.json`). Media paths are relative to the dataset root, the parent of the split
directory; `--media-root` overrides that root. Answer formats: `mc` (option letter), `yesno`,
`free` (exact match after normalisation) and `track` (TAP-Vid metrics against `meta.track`; the
query frame is not scored). Report groupings: the question family.
"""

from __future__ import annotations

from pathlib import Path

from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    GENERIC_INSTRUCTIONS,
    check_mode,
    check_unique_ids,
    format_options,
    read_jsonl,
    require,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem

FORMATS = ("mc", "yesno", "free", "track")


def samples_path(annotations: Path) -> Path:
    """The samples.jsonl of a split directory, or the file itself."""
    p = Path(annotations)
    return p / "samples.jsonl" if p.is_dir() else p


def _image_size(path: Path) -> list[int] | None:
    try:
        from PIL import Image

        with Image.open(path) as im:  # reads the header only
            return [int(im.height), int(im.width)]
    except (OSError, ValueError):
        return None


@register_benchmark("qa4d")
class QA4D(Benchmark):
    default_frames = 8
    media_kind = "images"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        path = samples_path(annotations)
        dataset_root = path.resolve().parent.parent
        root = Path(media_root) if media_root is not None else dataset_root
        items = []
        size_cache: dict[str, list[int] | None] = {}
        for lineno, rec in read_jsonl(path):
            where = f"line {lineno}"
            rid = require(rec, "id", path, where, str)
            task = require(rec, "task", path, where, str)
            question = require(rec, "question", path, where, str)
            answer = require(rec, "answer", path, where, str)
            fmt = require(rec, "answer_format", path, where, str)
            media = require(rec, "media", path, where, list)
            meta = dict(rec.get("meta") or {})
            if fmt not in FORMATS:
                raise BenchmarkFormatError(path, where, "answer_format", f"must be one of {FORMATS}, got {fmt!r}")
            options = rec.get("options")
            if fmt == "mc":
                if not isinstance(options, dict) or len(options) < 2:
                    raise BenchmarkFormatError(path, where, "options", "an mc sample needs an object of at least 2 options")
                options = {str(k): str(v) for k, v in options.items()}
                if answer not in options:
                    raise BenchmarkFormatError(path, where, "answer", f"{answer!r} is not one of the option letters {list(options)}")
            elif fmt == "yesno" and answer not in ("yes", "no"):
                raise BenchmarkFormatError(path, where, "answer", f"a yesno answer must be 'yes' or 'no', got {answer!r}")
            elif fmt == "track":
                if not isinstance(meta.get("track"), list) or not isinstance(meta.get("query"), dict):
                    raise BenchmarkFormatError(path, where, "meta.track", "a track sample needs meta.track (list) and meta.query")
                if media and "image_size" not in meta:
                    first = str(media[0])
                    if first not in size_cache:
                        size_cache[first] = _image_size(root / first)
                    if size_cache[first] is not None:
                        meta["image_size"] = size_cache[first]
            meta.update(frame_indices=rec.get("frame_indices"), timestamps=rec.get("timestamps"),
                        scene_id=rec.get("scene_id"), dataset_root=str(dataset_root))
            family = str(rec.get("family") or "")
            items.append(BenchItem(
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
            ))
        check_unique_ids(items, path)
        return items

    def media_paths(self, item: BenchItem, media_root: Path | None) -> list[Path]:
        root = Path(media_root) if media_root is not None else Path(item.meta.get("dataset_root", "."))
        return [root / m for m in item.media]

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        parts = []
        ts = item.meta.get("timestamps")
        if isinstance(ts, list) and ts and len(ts) == len(item.media) and (frames is None or frames >= len(ts)):
            # frames are not evenly spaced in general: say when each was taken (only when all are shown)
            parts.append("The frames were taken at " + ", ".join(f"{float(t):.2f}" for t in ts) + " seconds.")
        parts.append(item.question.strip())
        if item.options:
            parts.append(format_options(item.options))
        parts.append(GENERIC_INSTRUCTIONS[(item.answer_format, mode)])
        return "\n".join(parts)
