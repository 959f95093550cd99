"""A small but varied qa4d dataset built from scratch: records of every answer format (mc, yesno,
free, track) over several tasks and categories, in train and bench, with real PNG frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

W, H = 96, 64

# task -> (category, answer format, frames per sample)
TASKS = {
    "camera_movement": ("camera_motion", "mc", 4),
    "object_object_distance_change": ("object_motion", "yesno", 3),
    "depth": ("spatial", "free", 1),
    "multiview_depth": ("spatial", "mc", 2),
    "true_motion_point_tracking": ("point_tracking", "track", 3),
    "visual_point_tracking": ("point_tracking", "track", 3),
}
CAMERA_LABELS = [["left"], ["right", "forward"], ["static"], ["pan_left"]]
DIST_LABELS = ["increasing", "decreasing", "constant"]


def _frame(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (W, H), tuple(int(c) for c in rng.integers(20, 80, 3)))
    d = ImageDraw.Draw(img)
    x, y = (int(v) for v in rng.integers(5, 40, 2))
    d.rectangle([x, y, x + 30, y + 18], fill=tuple(int(c) for c in rng.integers(120, 255, 3)))
    d.ellipse([x + 5, y + 2, x + 20, y + 14], outline=(255, 0, 0), width=2)  # a "visual prompt"
    img.save(path)


def _record(split: str, i: int, task: str, rng: np.random.Generator, root: Path) -> dict[str, Any]:
    category, fmt, n = TASKS[task]
    scene = f"{split}_scene{i % 3}"
    start = int(rng.integers(0, 10))
    frames = [start + 4 * k for k in range(n)]
    media = []
    for f in frames:
        rel = f"{split}/media/{scene}/{f:05d}.png"
        if not (root / rel).exists():
            _frame(root / rel, rng)
        media.append(rel)
    meta: dict[str, Any] = {"objects": [int(rng.integers(1, 5))], "measurement": None}
    options = None
    if task == "camera_movement":
        label = CAMERA_LABELS[i % len(CAMERA_LABELS)]
        texts = ["moves left", "moves right and forward", "stays still", "pans left"]
        letters = "ABCD"
        perm = rng.permutation(4)
        options = {letters[j]: texts[perm[j]] for j in range(4)}
        answer = letters[int(np.where(perm == i % 4)[0][0])]
        question = f"How does the camera move between the first and the last frame? (sample {i})"
        meta.update(measurement=[round(float(v), 3) for v in rng.normal(size=3)], label="+".join(label), objects=[])
    elif task == "object_object_distance_change":
        label = DIST_LABELS[i % 3]
        answer = "yes" if i % 2 == 0 else "no"
        question = f"Does the distance between the red mug and the chair keep {label}? (sample {i})"
        meta.update(measurement=round(float(rng.normal()), 3), label=label, objects=[1, 2])
    elif task == "depth":
        d = float(rng.uniform(0.5, 6.0))
        answer = f"{d:.1f} m"
        question = f"How far from the camera is the object circled in red, in metres? (sample {i})"
        meta.update(measurement=round(d, 3))
    elif task == "multiview_depth":
        options = {"A": "the first image", "B": "the second image"}
        answer = "AB"[i % 2]
        question = f"In which image is the circled chair closer to the camera? (sample {i})"
        meta.update(measurement=round(float(rng.uniform(-2, 2)), 3), objects=[3])
    else:  # track
        qf = frames[0]
        qx, qy = (round(float(v), 3) for v in rng.uniform(0.2, 0.8, 2))
        track = []
        for k, f in enumerate(frames[1:]):
            track.append({"frame": f, "x": round(qx + 0.05 * (k + 1), 3), "y": round(qy - 0.03 * (k + 1), 3), "visible": k % 2 == 0})
        rng.shuffle(track)
        answer = "; ".join(f"frame {p['frame']}: ({p['x']:.3f}, {p['y']:.3f}) {'visible' if p['visible'] else 'occluded'}" for p in track)
        question = f"Where is the point ({qx:.3f}, {qy:.3f}) of frame {qf} in frames {', '.join(str(p['frame']) for p in track)}? (sample {i})"
        meta.update(
            measurement=[[p["x"], p["y"]] for p in track],
            query={"frame": qf, "x": qx, "y": qy},
            object_id=1,
            track=track,
            objects=[1],
        )
    return {
        "id": f"{split}-{task}-{i:03d}",
        "family": "4dpqa",
        "task": task,
        "category": category,
        "scene_id": scene,
        "media": media,
        "frame_indices": frames,
        "timestamps": [round(f / 10.0, 3) for f in frames],
        "question": question,
        "options": options,
        "answer": answer,
        "answer_format": fmt,
        "meta": meta,
    }


def build_dataset(root: Path, per_task: dict[str, int] | None = None, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Write a dataset under root and return its records per split."""
    rng = np.random.default_rng(seed)
    per_task = per_task or {"train": 4, "bench": 3}
    out: dict[str, list[dict[str, Any]]] = {}
    for split, n in per_task.items():
        recs = []
        for ti, task in enumerate(TASKS):
            # unequal counts per task so a card that mixes tasks up shows wrong numbers
            for i in range(n + (ti % 2)):
                recs.append(_record(split, i, task, rng, root))
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        out[split] = recs
    (root / "dataset.json").write_text(json.dumps({"seed": seed, "families": ["4dpqa"], "created": "2026-01-01T00:00:00Z"}))
    return out


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, dict[str, list[dict[str, Any]]]]:
    root = tmp_path / "ds"
    return root, build_dataset(root)
