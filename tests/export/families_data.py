"""A small dataset with records of all six families, written by hand with planted values: MultiSPA
image sets (Image-1, Image-2) with numeric answers (mm, [x, y, z] mm, 0-999 coordinates), sti and
r4d multiple choice with numeric meta.value in m and m/s, r4d's Set-of-Marks prefix image with
numbered marks and meta.regions, timebench's re-timed clip, vlm4d labels and 4dpqa yes/no. Real
PNG images (the r4d marks drawn with engine/draw.py's draw_mark)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from qa4d.engine.draw import COLOURS, draw_circles, mark_radius

W, H = 96, 72

# planted numeric answers: (family, task) -> {split: values}
DEPTH_MM = {"train": [1000, 1000, 1000, 2500, 4000], "bench": [1000, 4000, 4000]}
VECTOR_MM = {"train": [[10, -20, 300], [10, 0, 300], [-5, 40, 300]], "bench": [[10, -20, 100]]}
COORD = {"train": [[100, 900], [500, 900]], "bench": [[100, 100]]}
STI_SPEED = {"train": [0.25, 0.25, 0.75], "bench": [0.75]}     # m/s, mc
STI_SIZE_CM = {"train": [12.0], "bench": [30.0, 30.0]}         # cm, mc
STI_DIST_M = {"train": [0.5], "bench": []}                     # m, mc, the same task as the sizes
R4D_DISP_M = {"train": [0.5, 1.5], "bench": [1.5]}
TIME_S = {"train": [0.8, 1.6], "bench": [0.8]}
VLM4D_LABELS = {"train": ["left", "left", "right"], "bench": ["not_moving"]}
YESNO = {"train": ["yes", "no", "no"], "bench": ["yes"]}


def _image(path: Path, seed: int, marks: list[dict[str, Any]] | None = None) -> None:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (W, H), tuple(int(c) for c in rng.integers(30, 90, 3)))
    d = ImageDraw.Draw(img)
    x, y = (int(v) for v in rng.integers(5, 40, 2))
    d.rectangle([x, y, x + 30, y + 20], fill=tuple(int(c) for c in rng.integers(120, 255, 3)))
    a = np.asarray(img)
    if marks:
        a = draw_circles(a, marks)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)


class Builder:
    def __init__(self, root: Path):
        self.root = root
        self.records: dict[str, list[dict[str, Any]]] = {"train": [], "bench": []}
        self.n = 0

    def media(self, split: str, scene: str, frame: int, marks: list[dict[str, Any]] | None = None, tag: str = "") -> str:
        rel = f"media/{scene}/{'p/' + tag + '_' if tag else ''}{frame:05d}.png"
        if not (self.root / rel).exists():
            self.n += 1
            _image(self.root / rel, self.n, marks)
        return rel

    def add(self, split: str, family: str, task: str, category: str, fmt: str, question: str, answer: str,
            meta: dict[str, Any], frames: list[int], times: list[float], options: dict[str, str] | None = None,
            media: list[str] | None = None) -> dict[str, Any]:
        scene = f"{split}_scene"
        i = len(self.records[split])
        rec = {
            "id": f"{split}-{family}-{task}-{i:03d}",
            "family": family, "task": task, "category": category, "scene_id": scene,
            "media": media or [self.media(split, scene, f) for f in frames],
            "frame_indices": frames, "timestamps": times, "question": question, "options": options,
            "answer": answer, "answer_format": fmt, "meta": {"objects": [], "measurement": None, **meta},
        }
        self.records[split].append(rec)
        return rec


def _letter_options(values: list[str], correct: int) -> tuple[dict[str, str], str]:
    letters = "ABCDE"
    return {letters[k]: v for k, v in enumerate(values)}, letters[correct]


def build_family_dataset(root: Path) -> dict[str, list[dict[str, Any]]]:
    b = Builder(root)
    for split in ("train", "bench"):
        for k, mm in enumerate(DEPTH_MM[split]):
            b.add(split, "multispa", "depth_estimation_coord", "depth_value", "scalar",
                  f"Image-1 shows a scene. How deep is the point at [400, {300 + k}], in integer millimetres?",
                  f"`{mm}`", {"value": mm, "unit": "mm", "media_kind": "images", "measurement": mm + 0.3,
                              "points": [{"image": 0, "x": 400, "y": 300 + k, "label": "query"}]}, [3 + k], [0.1 * (3 + k)])
        for k, vec in enumerate(VECTOR_MM[split]):
            b.add(split, "multispa", "object_vector_coord", "object_movement_vector", "vector",
                  f"Image-1 and Image-2 were taken at two moments. By what vector did the scene point at [250, {600 + k}] "
                  "in Image-1 move by the time of Image-2? Give [x, y, z] in whole millimetres.",
                  f"`[{vec[0]}, {vec[1]}, {vec[2]}]`", {"value": vec, "unit": "mm", "media_kind": "images",
                                                        "points": [{"image": 0, "x": 250, "y": 600 + k, "label": "query"}]},
                  [10 + k, 2 + k], [1.0 + 0.1 * k, 0.2 + 0.1 * k])
        for k, xy in enumerate(COORD[split]):
            b.add(split, "multispa", "correspondence_coord", "vc_coordinate", "coord",
                  f"Image-1 and Image-2 show the same static scene. Which point of Image-2 shows the same scene point as [300, {200 + k}] in Image-1?",
                  f"`[{xy[0]}, {xy[1]}]`", {"value": xy, "space": "per_mille", "scale": 1000.0, "media_kind": "images",
                                             "points": [{"image": 0, "x": 300, "y": 200 + k, "label": "query"},
                                                        {"image": 1, "x": xy[0], "y": xy[1], "label": "answer"}]},
                  [20 + k, 4 + k], [2.0, 0.4])
        # a MultiSPA dot question: its option dots drawn with their letters
        dots = [{"cx": 30.0, "cy": 40.0, "r": 4.0, "colour": "yellow", "text": "A"},
                {"cx": 70.0, "cy": 20.0, "r": 4.0, "colour": "magenta", "text": "B"}]
        scene = f"{split}_scene"
        b.add(split, "multispa", "depth_comparison_dot", "depth_comparison", "mc",
              "Image-1 shows a scene. Two points are circled, one in yellow and one in magenta. Which one is closer to the camera?",
              "A", {"value": "A", "polarity": "closer", "media_kind": "images",
                    "points": [{"image": 0, "x": 312, "y": 555, "label": "A"}, {"image": 0, "x": 729, "y": 277, "label": "B"}],
                    "refs": [{"mode": "prompt", "media": 0, **d} for d in dots]},
              [7], [0.7], options={"A": "the yellow circle", "B": "the magenta circle"},
              media=[b.media(split, scene, 7, dots, tag="dots")])
        for k, v in enumerate(STI_SPEED[split]):
            vals = [v - 0.1, v, v + 0.1, v + 0.2, v + 0.3]
            opts, ans = _letter_options([f"{x:.2f} m/s" for x in vals], 1)
            b.add(split, "sti", "speed_acceleration", "dynamic", "mc",
                  f"From 0.50 s (frame 2) to 1.50 s (frame 4), what is the average speed of the red box? ({k})", ans,
                  {"value": v, "unit": "m/s", "quantity": "speed", "time_window": [0.5, 1.5], "objects": [3]},
                  [0, 5, 10, 15], [0.0, 0.5, 1.0, 1.5], options=opts)
        for k, v in enumerate(STI_SIZE_CM[split]):
            opts, ans = _letter_options([f"{v + d:.0f} cm" for d in (-20, -10, 0, 10, 20)], 2)
            b.add(split, "sti", "dimension_measurement", "static", "mc",
                  f"How tall is the blue box at 1.00 s (frame 3)? ({k})", ans,
                  {"value": v, "unit": "cm", "quantity": "size", "time_window": [1.0, 1.0], "objects": [4]},
                  [0, 5, 10, 15], [0.0, 0.5, 1.0, 1.5], options=opts)
        for k, v in enumerate(STI_DIST_M[split]):
            opts, ans = _letter_options([f"{v + d:.2f} m" for d in (-0.2, -0.1, 0, 0.1, 0.2)], 2)
            b.add(split, "sti", "dimension_measurement", "static", "mc",
                  f"At 1.00 s (frame 3), how far apart are the blue box and the chair? ({k})", ans,
                  {"value": v, "unit": "m", "quantity": "distance", "time_window": [1.0, 1.0], "objects": [4, 2]},
                  [0, 5, 10, 15], [0.0, 0.5, 1.0, 1.5], options=opts)
        for k, v in enumerate(R4D_DISP_M[split]):
            marks = [{"cx": 30.5, "cy": 30.5, "r": mark_radius(W, H), "colour": "red", "label": 1},
                     {"cx": 70.5, "cy": 50.5, "r": mark_radius(W, H), "colour": "green", "label": 2}]
            som = b.media(split, scene, 100 + k, marks, tag="som")
            frames = [0, 0, 6, 12]
            rest = [b.media(split, scene, f) for f in frames[1:]]
            opts, ans = _letter_options([f"{v * f:.2f} m" for f in (0.5, 0.75, 1.0, 1.25, 1.5)], 2)
            b.add(split, "r4d", "displacement_path_length", "displacement_path_length", "mc",
                  "The first image is the first frame of the video with numbered marks; <obj_k> is the object under mark k. "
                  f"Between 0.50 s (frame 3) and 1.00 s (frame 4), how large is the displacement of <obj_1> relative to <obj_2>? ({k})",
                  ans, {"value": v, "unit": "m", "quantity": "displacement", "time_window": [0.5, 1.0], "objects": [5, 6],
                        "reference": "set_of_marks", "som_image": som,
                        "regions": {"obj_1": {"object_id": 5, "x": 30.5 / W, "y": 30.5 / H},
                                    "obj_2": {"object_id": 6, "x": 70.5 / W, "y": 50.5 / H}},
                        "refs": [{"kind": "object", "object": 5 + j, "mode": "mark", "media": 0, **m} for j, m in enumerate(marks)]},
                  frames, [0.0, 0.0, 0.5, 1.0], options=opts, media=[som, *rest])
        for k, v in enumerate(TIME_S[split]):
            step = 6 if v < 1 else 12
            n = 5
            opts, ans = _letter_options([f"{v * r:.2f} s" for r in (0.25, 0.5, 1.0, 2.0, 4.0)], 2)
            b.add(split, "timebench", "elapsed_time", "time", "mc",
                  f"The {n} images are frames of a video that plays at 30 frames per second, one image every {step} frames, "
                  "in order. How much time has passed from the first image to the last, in seconds?",
                  ans, {"value": v, "unit": "s", "fps": 30.0, "step": step, "measurement": v},
                  [1 + step * j for j in range(n)], [round(step * j / 30.0, 4) for j in range(n)], options=opts)
        for k, lab in enumerate(VLM4D_LABELS[split]):
            texts = {"left": "left", "right": "right", "not_moving": "not moving", "absent:mug": "no mug there"}
            order = ["left", "right", "not_moving", "absent:mug"]
            opts, ans = _letter_options([texts[x] for x in order], order.index(lab))
            b.add(split, "vlm4d", "translational", "translational", "mc",
                  f"Ignoring how the camera moves, which way does the red box travel? ({k})", ans,
                  {"value": texts[lab], "label": lab, "option_labels": {L: o for L, o in zip("ABCD", order)}, "objects": [3]},
                  [0, 4, 8], [0.0, 0.4, 0.8], options=opts)
        for k, yn in enumerate(YESNO[split]):
            b.add(split, "4dpqa", "depth", "spatial", "yesno", f"Is the red box closer than the chair? ({k})", yn,
                  {"objects": [1, 2]}, [0, 4], [0.0, 0.4])
    for split, recs in b.records.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (root / "dataset.json").write_text(json.dumps({"format": "qa4d.dataset/1", "settings": {"seed": 0}}))
    return b.records


__all__ = ["build_family_dataset", "COLOURS"]
