"""VSTI-Bench (VLM-3R): spatio-temporal questions on indoor scan videos, in VSI-Bench's format.

Annotations: a JSON list, a JSONL file, or a parquet file of records with `question_type`,
`question`, `options` (list like ["A. ...", ...] or null), `ground_truth` (the answer text or number)
and `mc_answer` (the correct letter); `id` if present (else the record index), the video as
`video_path` / `video`, else `<dataset>/<scene_name>.mp4` (VSI-Bench's layout), relative to
`--media-root`. Records with options are multiple choice scored on `mc_answer`; records without
options are numeric answers scored by mean relative accuracy (VSI-Bench's definition).
Groupings: `dataset` (the scan source) when present.
"""

from __future__ import annotations

from pathlib import Path

from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    check_unique_ids,
    letter_options,
    read_json,
    read_jsonl,
    require,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem


def _records(path: Path) -> list[tuple[str, dict]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except FileNotFoundError:
            raise BenchmarkFormatError(path, None, None, "file not found") from None
        return [(str(i), r) for i, r in enumerate(rows)]
    if path.suffix == ".jsonl":
        return [(f"line {n}", r) for n, r in read_jsonl(path)]
    data = read_json(path)
    if not isinstance(data, list):
        raise BenchmarkFormatError(path, None, None, f"expected a JSON list of questions, got {type(data).__name__}")
    return [(str(i), r) for i, r in enumerate(data)]


@register_benchmark("vsti-bench")
class VSTIBench(Benchmark):
    default_frames = 16
    media_kind = "video"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        path = Path(annotations)
        if path.is_dir():
            cands = [path / n for n in ("test.json", "vsti_bench.json", "test.jsonl", "test.parquet") if (path / n).exists()]
            if not cands:
                raise BenchmarkFormatError(path, None, None, "holds no test.json / test.jsonl / test.parquet")
            path = cands[0]
        items = []
        for index, (where, rec) in enumerate(_records(path)):
            qtype = require(rec, "question_type", path, where, str)
            question = require(rec, "question", path, where, str)
            if "ground_truth" not in rec:
                raise BenchmarkFormatError(path, where, "ground_truth", "missing")
            gt = rec["ground_truth"]
            video = rec.get("video_path") or rec.get("video")
            if not video:
                if not (rec.get("dataset") and rec.get("scene_name")):
                    raise BenchmarkFormatError(path, where, "video_path", "missing (and no dataset + scene_name to build it)")
                video = f"{rec['dataset']}/{rec['scene_name']}.mp4"
            meta = {"ground_truth": gt}
            if rec.get("options"):
                options = letter_options(rec["options"], path, where, "options")
                answer = str(require(rec, "mc_answer", path, where, str)).strip().upper()
                if answer not in options:
                    raise BenchmarkFormatError(path, where, "mc_answer", f"{answer!r} is not one of {list(options)}")
                fmt = "mc"
            else:
                options = None
                try:
                    answer = repr(float(gt))
                except (TypeError, ValueError):
                    raise BenchmarkFormatError(path, where, "ground_truth", f"expected a number for a question without options, got {gt!r}") from None
                fmt = "number"
            items.append(BenchItem(
                id=str(rec.get("id", index)),
                benchmark="vsti-bench",
                task=qtype,
                question=question,
                answer=answer,
                answer_format=fmt,
                options=options,
                category=None,
                media=[str(video)],
                media_kind="video",
                groups={"dataset": str(rec["dataset"])} if rec.get("dataset") else {},
                meta=meta,
            ))
        check_unique_ids(items, path)
        return items
