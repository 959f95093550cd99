"""A hand-made qa4d dataset for the training tests: a few records (mc, yes/no, free, track) with
small random frames, in train/ and bench/ splits, written in the record format of docs/samples.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

ANSWERS = [("mc", "A"), ("yesno", "yes"), ("mc", "C"), ("free", "the camera moves left")]


def record(i: int, media: list[str], fmt: str, answer: str, task: str = "camera_movement",
           category: str = "camera_motion") -> dict:
    options = {"A": "left", "B": "right", "C": "up", "D": "down"} if fmt == "mc" else None
    return {"id": f"s{i}/{task}/{i:05d}-000", "family": "4dpqa", "task": task, "category": category,
            "scene_id": f"s{i}", "media": media, "frame_indices": list(range(len(media))),
            "timestamps": [round(0.5 * k, 2) for k in range(len(media))],
            "question": f"How does the camera move in clip {i}?", "options": options, "answer": answer,
            "answer_format": fmt, "meta": {"objects": [], "measurement": None}}


def make_dataset(root: Path, n_train: int = 6, n_bench: int = 3, n_frames: int = 2, n_track: int = 0) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("bench", n_bench)):
        rows = []
        for i in range(n):
            media = []
            for k in range(n_frames):
                rel = f"media/{split}{i}/{k:06d}.jpg"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / rel)
                media.append(rel)
            fmt, answer = ANSWERS[i % len(ANSWERS)] if split == "train" else ("mc", "AB"[i % 2])
            rows.append(record(i, media, fmt, answer))
        for j in range(n_track if split == "train" else 0):
            rows.append(record(100 + j, rows[j]["media"], "free", f"frame 2: (0.{j}12, 0.233), visible",
                               task="visual_point_tracking", category="point_tracking"))
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
