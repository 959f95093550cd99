"""Small benchmark files built by the tests (no downloads): qa4d split, STI-Bench parquet, MultiSPA
JSONL, R4D-Bench and VSTI-Bench JSON.

VLM4D: the published files (`shared/data/vlm4d` beside the repository, found from this file's
parents) when they are there, else the fixture `tests/data/vlm4d` (a few dozen records of each file,
MIT licence). `VLM4D_DIR` is whichever is there; tests that need the full files use
`@needs_full_vlm4d` and are skipped without them. QA4D_TEST_WITHOUT_SHARED=1 runs the tests as on a
clone without ../shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

VLM4D_FILES = ("real_mc.json", "synthetic_mc.json")
VLM4D_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "vlm4d"


def _published_vlm4d() -> Path | None:
    if os.environ.get("QA4D_TEST_WITHOUT_SHARED"):  # run as on a clone without ../shared
        return None
    for parent in Path(__file__).resolve().parents:
        cand = parent / "shared" / "data" / "vlm4d"
        if all((cand / f).is_file() for f in VLM4D_FILES):
            return cand
    return None


VLM4D_FULL = _published_vlm4d()
VLM4D_DIR = VLM4D_FULL or VLM4D_FIXTURE
needs_full_vlm4d = pytest.mark.skipif(VLM4D_FULL is None, reason="the published VLM4D files (../shared) are not here")


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def make_qa4d_split(root: Path, n_mc: int = 6, with_images: bool = True) -> Path:
    """DATASET/bench with mc, yesno, free and track samples; returns the split directory."""
    from PIL import Image

    split = root / "ds" / "bench"
    frames_dir = root / "ds" / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    media = [f"frames/s0_{i:03d}.jpg" for i in range(3)]
    if with_images:
        for m in media:
            Image.new("RGB", (320, 240), (90, 120, 150)).save(root / "ds" / m)
    base = dict(family="4dpqa", scene_id="s0", media=media, frame_indices=[0, 5, 10],
                timestamps=[0.0, 0.5, 1.0])
    recs = []
    for i in range(n_mc):
        recs.append(dict(base, id=f"mc{i}", task="camera_movement", category="camera_motion",
                         question=f"Which way does the camera move ({i})?",
                         options={"A": "left", "B": "right", "C": "forward", "D": "backward"},
                         answer="ABCD"[i % 4], answer_format="mc", meta={"objects": [], "measurement": i}))
    recs.append(dict(base, id="yn0", task="object_moves", category="object_motion", question="Does the red cube move?",
                     options=None, answer="yes", answer_format="yesno", meta={"objects": [1], "measurement": 0.3}))
    recs.append(dict(base, id="free0", task="object_name", category="object_motion", question="What moves?",
                     options=None, answer="red cube", answer_format="free", meta={"objects": [1], "measurement": None}))
    # As the engine writes them: coordinates normalised to [0, 1], `frame` the scene frame index,
    # `media` the image's position; the answer text names frames by position ("frame 2").
    track = [{"frame": 0, "media": 0, "x": 100 / 320, "y": 50 / 240, "visible": True},
             {"frame": 5, "media": 1, "x": 110 / 320, "y": 55 / 240, "visible": True},
             {"frame": 10, "media": 2, "x": 0.0, "y": 0.0, "visible": False}]
    answer = "frame 2: (0.344, 0.229), visible; frame 3: occluded"
    recs.append(dict(base, id="trk0", task="point_tracking", category="tracking", question="Track the point.",
                     options=None, answer=answer, answer_format="track",
                     meta={"objects": [1], "measurement": None,
                           "query": {"frame": 0, "media": 0, "x": 100 / 320, "y": 50 / 240},
                           "object_id": 1, "track": track}))
    write_jsonl(split / "samples.jsonl", recs)
    return split


STI_ROWS = [
    # Video, ID, t0, t1, Question, Candidates, Answer, Task, Source
    ("waymo/seg1.mp4", "sti_0", 0.0, 4.0, "How far does the ego car travel?",
     {"A": "5 m", "B": "10 m", "C": "20 m", "D": "40 m", "E": "80 m"}, "B", "Displacement & Path Length", "Waymo"),
    ("waymo/seg2.mp4", "sti_1", 1.0, 3.0, "What is the speed of the white car?",
     {"A": "1 m/s", "B": "5 m/s", "C": "9 m/s", "D": "12 m/s", "E": "20 m/s"}, "C", "Speed & Acceleration", "Waymo"),
    ("scannet/s0.mp4", "sti_2", 0.0, 8.0, "How long is the table?",
     {"A": "0.5 m", "B": "1.0 m", "C": "1.5 m", "D": "2.0 m", "E": "3.0 m"}, "D", "Dimension Measurement", "ScanNet"),
    ("desk/d0.mp4", "sti_3", 2.0, 6.0, "Where is the cup relative to the laptop?",
     {"A": "left", "B": "right", "C": "front", "D": "behind", "E": "on top"}, "A", "Spatial Relationship", "Desktop"),
]


def make_sti_parquet(path: Path, rows=STI_ROWS, candidates_as_json: bool = False) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = list(zip(*rows))
    cands = [json.dumps(c) for c in cols[5]] if candidates_as_json else list(cols[5])
    table = pa.table({"Video": list(cols[0]), "ID": list(cols[1]), "time_start": list(cols[2]),
                      "time_end": list(cols[3]), "Question": list(cols[4]), "Candidates": cands,
                      "Answer": list(cols[6]), "Task": list(cols[7]), "Source": list(cols[8])})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def make_multispa(dir_: Path) -> Path:
    """Two per-type files whose ids restart, InternVL-style, as the authors write them."""
    cam = [
        {"id": 0, "image": ["scene0/001.jpg", "scene0/050.jpg"], "question_type": "displacement_vector",
         "conversations": [{"from": "human", "value": "Image-1: <image>\nImage-2: <image>\nGive the camera displacement vector [x, y, z] in mm."},
                           {"from": "gpt", "value": "It is `[100, -200, 1500]`."}],
         "gt_value": [0.1, -0.2, 1.5], "height_list": [968, 968], "width_list": [1296, 1296]},
        {"id": 1, "image": ["scene0/001.jpg", "scene0/060.jpg"], "question_type": "total_distance",
         "text": "Image-1: <image>\nImage-2: <image>\nHow far apart are the cameras (in mm)?", "gt_value": 1150},
        {"id": 2, "image": ["scene0/001.jpg", "scene0/070.jpg"], "question_type": "yaw_angle",
         "text": "Image-1: <image>\nImage-2: <image>\nHow many degrees did the camera yaw?", "gt_value": 30},
        {"id": 3, "image": ["scene0/001.jpg", "scene0/080.jpg"], "question_type": "x_movement",
         "text": "Image-1: <image>\nImage-2: <image>\nDid the camera move left or right?", "gt_value": "left"},
    ]
    corr = [
        {"id": 0, "image": ["scene1/a.jpg", "scene1/b.jpg"], "question_type": "visual_correspondence_coor_2_coor",
         "text": "Image-1: <image>\nImage-2: <image>\nFind the matching position in Image-2 for point [314, 111].",
         "gt_value": [363, 70], "height_list": [480, 480], "width_list": [640, 640]},
    ]
    write_jsonl(dir_ / "camera_movement" / "v1_0" / "camera_val.jsonl", cam)
    write_jsonl(dir_ / "visual_correspondence" / "v1_0" / "corr_val.jsonl", corr)
    return dir_


R4D_RECORDS = [
    {"id": "r4d_0", "benchmark": "VLM4D", "task": "Translational", "question": "Which way does <1> move?",
     "options": ["left", "right", "not moving", "no such object"], "answer": "right",
     "video": "videos/a.mp4", "som_image": "som/a.png"},
    {"id": "r4d_1", "benchmark": "STI-Bench", "task": "Dimension Measurement", "question": "How tall is <2>?",
     "options": ["0.5 m", "1 m", "2 m", "3 m"], "answer": "2 m", "video": "videos/b.mp4", "som_image": "som/b.png"},
    {"id": "r4d_2", "benchmark": "VLM4D", "task": "Counting", "question": "How many times does <1> jump?",
     "options": {"A": "1", "B": "2", "C": "3", "D": "0"}, "answer": "3", "video": "videos/c.mp4", "som_image": "som/c.png"},
]

VSTI_RECORDS = [
    {"id": 10, "dataset": "scannet", "scene_name": "scene0001_00", "question_type": "camera_displacement",
     "question": "How far did the camera move?", "options": ["A. 0.5 m", "B. 1.0 m", "C. 2.0 m", "D. 4.0 m"],
     "ground_truth": "1.0 m", "mc_answer": "B"},
    {"id": 11, "dataset": "arkitscenes", "scene_name": "41069025", "question_type": "object_camera_distance",
     "question": "How far is the chair from the camera at the end (in meters)?", "options": None,
     "ground_truth": 2.0, "mc_answer": None},
]


def rng_responses(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=n)
