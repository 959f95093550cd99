"""STI-Bench (spatial-temporal intelligence): multiple choice on driving, indoor and desktop videos.

Annotations: `qa.parquet` with columns `Video`, `ID`, `time_start`, `time_end`, `Question`,
`Candidates` (options: an object {"A": ...}, a JSON string of one, or a list), `Answer` (letter
A-E), `Task`, `Source` (the scene type: e.g. Waymo, ScanNet, Desktop). Media: `Video` relative to
`--media-root`. Report groupings: per task (`by_task`) and per scene type (`by_scene_type`).

The protocol tells the model which part of the video it sees: the prompt states the time window
[time_start, time_end] and the frame rate of the frames actually sent (frames / window length).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    check_unique_ids,
    format_options,
    letter_options,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem

COLUMNS = ("Video", "ID", "time_start", "time_end", "Question", "Candidates", "Answer", "Task", "Source")


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise BenchmarkFormatError(path, None, None, "file not found") from None
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise BenchmarkFormatError(path, None, None, f"not a readable parquet file ({e})") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise BenchmarkFormatError(path, None, ", ".join(missing), f"missing column(s); has {table.column_names}")
    return table.to_pylist()


def _candidates(value, path: Path, i: int) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise BenchmarkFormatError(path, i, "Candidates", f"a string that is not JSON: {value!r:.60}") from None
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if v is not None}  # parquet structs fill absent keys with null
    return letter_options(value, path, i, "Candidates")


def _seconds(value, path: Path, i: int, field: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise BenchmarkFormatError(path, i, field, f"expected seconds, got {value!r}") from None
    if not math.isfinite(t) or t < 0:
        raise BenchmarkFormatError(path, i, field, f"expected non-negative seconds, got {value!r}")
    return t


@register_benchmark("sti-bench")
class STIBench(Benchmark):
    default_frames = 16
    media_kind = "video"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        path = Path(annotations)
        if path.is_dir():
            path = path / "qa.parquet"
        rows = _read_parquet(path)
        items = []
        for i, row in enumerate(rows):
            for c in ("Video", "ID", "Question", "Answer", "Task", "Source"):
                if row.get(c) is None or str(row[c]).strip() == "":
                    raise BenchmarkFormatError(path, i, c, "missing")
            t0 = _seconds(row["time_start"], path, i, "time_start")
            t1 = _seconds(row["time_end"], path, i, "time_end")
            if t1 <= t0:
                raise BenchmarkFormatError(path, i, "time_end", f"must be after time_start ({t0} >= {t1})")
            options = _candidates(row["Candidates"], path, i)
            answer = str(row["Answer"]).strip().upper()
            if answer not in options:
                raise BenchmarkFormatError(path, i, "Answer", f"{row['Answer']!r} is not one of the option letters {list(options)}")
            items.append(BenchItem(
                id=str(row["ID"]),
                benchmark="sti-bench",
                task=str(row["Task"]),
                question=str(row["Question"]),
                answer=answer,
                answer_format="mc",
                options=options,
                category=str(row["Source"]),
                media=[str(row["Video"])],
                media_kind="video",
                groups={"scene_type": str(row["Source"])},
                meta={"time_start": t0, "time_end": t1},
            ))
        check_unique_ids(items, path)
        return items

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        n = int(frames or self.default_frames)
        t0, t1 = float(item.meta["time_start"]), float(item.meta["time_end"])
        fps = n / (t1 - t0)
        header = (f"You are shown {n} frames sampled uniformly at {fps:.2f} frames per second from the "
                  f"video segment between {t0:.2f} s and {t1:.2f} s.")
        return "\n".join([header, f"Question: {item.question.strip()}",
                          format_options(item.options or {}), self.answer_form(item, mode).instruction])
