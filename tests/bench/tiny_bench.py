"""A tiny in-test benchmark for the runner and model tests: items with real PNG frames on disk
and a prompt that names the item ("ITEM <id>") so the fake server can tell requests apart."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
from PIL import Image

from qa4d.bench.benchmarks.base import Benchmark
from qa4d.bench.types import BenchItem


class TinyBench(Benchmark):
    name = "tiny"
    default_frames = 4
    media_kind = "images"

    def __init__(self, items: list[BenchItem] | None = None):
        self.items = items or []

    def load(self, annotations, media_root=None):
        return list(self.items)

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        opts = "\n".join(f"{k}. {v}" for k, v in (item.options or {}).items())
        return f"ITEM {item.id} ({frames} frames)\n{item.question}\n{opts}\nAnswer with the letter."


def write_frames(root: Path, name: str, n: int, size=(32, 24)) -> list[str]:
    """n solid-colour PNGs (colour encodes the frame index); paths relative to root."""
    rels = []
    (root / name).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rel = f"{name}/{i:03d}.png"
        arr = np.full((size[1], size[0], 3), (10 * i) % 256, dtype=np.uint8)
        Image.fromarray(arr).save(root / rel)
        rels.append(rel)
    return rels


def make_items(root: Path, n_items: int, n_frames: int = 6, options: int = 4) -> list[BenchItem]:
    letters = "ABCDE"[:options]
    items = []
    for i in range(n_items):
        media = write_frames(root, f"clip{i:03d}", n_frames)
        items.append(BenchItem(
            id=f"q{i}", benchmark="tiny", task=f"task{i % 2}", question=f"Which way does object {i} move?",
            answer=letters[i % options], answer_format="mc",
            options={k: f"direction {k}" for k in letters}, media=media, media_kind="images",
        ))
    return items


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "src/qa4d/dataset/sample.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)  # compiled once: validate() would recompile per record
DIRECTIONS = ["left", "right", "forward", "backward"]


def write_split(root: Path, split: str, n: int, seed: int) -> list[dict]:
    """A qa4d split: mc (answer text 'left' 60% of the time, options shuffled), yes/no (70% yes),
    free text and point tracks; every record is validated against the sample schema."""
    rng = np.random.default_rng(seed)
    (root / "frames").mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(3):
        rel = f"frames/s{i}.png"
        if not (root / rel).exists():
            Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)).save(root / rel)
        frames.append(rel)
    base = {"family": "4dpqa", "scene_id": "scene0", "media": frames, "frame_indices": [0, 5, 10],
            "timestamps": [0.0, 0.5, 1.0]}
    recs = []
    for i in range(n):
        kind = i % 10
        if kind < 6:
            truth = "left" if rng.random() < 0.6 else DIRECTIONS[1 + int(rng.integers(3))]
            order = rng.permutation(DIRECTIONS)
            options = {L: str(t) for L, t in zip("ABCD", order)}
            answer = next(L for L, t in options.items() if t == truth)
            rec = {"task": "camera_movement", "category": "camera_motion", "question": "Where does the camera move?",
                   "options": options, "answer": answer, "answer_format": "mc"}
        elif kind < 9:
            rec = {"task": "object_moving", "category": "object_motion", "question": "Is the red cube moving?",
                   "options": None, "answer": "yes" if rng.random() < 0.7 else "no", "answer_format": "yesno"}
        else:
            track = [{"frame": f, "x": float(rng.uniform(0, 32)), "y": float(rng.uniform(0, 24)),
                      "visible": bool(rng.random() < 0.8)} for f in (0, 5, 10)]
            track[0]["visible"] = True
            rec = {"task": "point_track", "category": "tracking", "question": "Track the point.",
                   "options": None, "answer": json.dumps(track), "answer_format": "track",
                   "meta": {"objects": [0], "measurement": None, "object_id": 0,
                            "query": {"frame": 0, "x": track[0]["x"], "y": track[0]["y"]}, "track": track}}
        rec = {"id": f"{split}-{i:04d}", **base, **rec}
        rec.setdefault("meta", {"objects": [0], "measurement": 1.0})
        VALIDATOR.validate(rec)
        recs.append(rec)
    (root / split).mkdir(parents=True, exist_ok=True)
    with open(root / split / "samples.jsonl", "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    return recs
