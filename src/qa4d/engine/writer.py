"""Files of a dataset, all written atomically (qa4d._io: temporary file, fsync, os.replace):

    DATASET/dataset.json                     settings, split, counts, skip reasons
    DATASET/train/samples.jsonl              one record per line (sample.schema.json)
    DATASET/bench/samples.jsonl
    DATASET/media/<scene_id>/<frame>.jpg     frames shared by the samples of a scene
    DATASET/media/<scene_id>/p/<sample>.jpg  frames with visual prompts drawn, one per sample and image
    DATASET/.work/candidates/<scene_id>.json phase-1 results (what resuming skips)

Media files are skipped when they exist: a file is either absent or complete, and its bytes are
a function of the scene and the settings, so a resumed run writes the same bytes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from qa4d._io import atomic_file, write_bytes_atomic, write_text_atomic
from qa4d.engine.draw import draw_circles, encode_jpeg

SPLITS = ("train", "bench")
WORK_DIR = ".work"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of an id ('scene/task/1-2' -> 'scene_task_1-2')."""
    return _SAFE.sub("_", text).strip("_") or "_"


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def record_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def write_samples(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """One line per record, streamed (the text of all records is never held at once)."""
    n = 0
    with atomic_file(path) as f:
        for r in records:
            f.write((record_line(r) + "\n").encode("utf-8"))
            n += 1
    return n


def candidates_path(out: Path, scene_id: str) -> Path:
    return out / WORK_DIR / "candidates" / f"{safe_name(scene_id)}.json"


def frame_media_path(scene_id: str, frame: int) -> str:
    return f"media/{safe_name(scene_id)}/{frame:06d}.jpg"


def prompt_media_path(scene_id: str, sample_id: str, media_pos: int) -> str:
    return f"media/{safe_name(scene_id)}/p/{safe_name(sample_id)}_{media_pos}.jpg"


class MediaWriter:
    """Writes the images of one scene's samples; frames are decoded once and cached."""

    def __init__(self, out: Path, scene, quality: int):
        self.out = out
        self.scene = scene
        self.quality = quality
        self._frames: dict[int, np.ndarray] = {}
        self.written = 0
        self.skipped = 0

    def frame(self, t: int) -> np.ndarray:
        if t not in self._frames:
            self._frames[t] = self.scene.frame(t)
        return self._frames[t]

    def _write(self, rel: str, make) -> None:
        path = self.out / rel
        if path.exists():
            self.skipped += 1
            return
        write_bytes_atomic(path, encode_jpeg(make(), self.quality))
        self.written += 1

    def shared_frame(self, t: int) -> str:
        rel = frame_media_path(self.scene.scene_id, t)
        self._write(rel, lambda: self.frame(t))
        return rel

    def prompted_frame(self, t: int, sample_id: str, media_pos: int, circles: list[dict[str, Any]]) -> str:
        rel = prompt_media_path(self.scene.scene_id, sample_id, media_pos)
        self._write(rel, lambda: draw_circles(self.frame(t), circles))
        return rel
