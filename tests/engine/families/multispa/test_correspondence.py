"""MultiSPA correspondence tasks on a hand-made scene in closed form: a wall filling the view at
depth D = 4 m, a camera (looking along world +z, up = -y) sliding along x by 0.6 m per frame. A
point at pixel u in image 1 is at u - f * (x2 - x1) / D in image 2 (same row): the expected
0-999 answer is computed from that formula alone."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from qa4d.geometry import intrinsics_from_fov
from qa4d.scene.format import SceneMeta, write_scene

S, T, D, STEP = 64, 6, 4.0, 0.6
K = intrinsics_from_fov(S, S, 60.0)


def expected(frames, q):
    u1 = (q[0] + 0.5) * S / 1000
    u2 = u1 - K[0, 0] * STEP * (frames[1] - frames[0]) / D
    return [math.floor(u2 / S * 1000), q[1]]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_vc")
    for sid in ("wall0", "wall1"):
        c2w = np.tile(np.eye(4), (T, 1, 1))
        c2w[:, 0, 3] = STEP * np.arange(T)
        rng = np.random.default_rng(len(sid))
        img = rng.integers(0, 255, (T, S, S, 3), dtype=np.uint8)
        meta = SceneMeta(scene_id=sid, source="sim", fps=5.0, width=S, height=S, frames=[], objects=[],
                         world_up=(0.0, -1.0, 0.0))
        arrays = {"intrinsics": np.tile(K, (T, 1, 1)), "cam_to_world": c2w,
                  "depth": np.full((T, S, S), D, np.float32), "instance_mask": np.zeros((T, S, S), np.int32)}
        write_scene(root / "scenes" / sid, meta, arrays, frames=list(img), image_format="png")
    ds = root / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "correspondence_coord", "correspondence_mcq",
                        "camera_x_movement", "--bench-fraction", "0.5", "--seed", "4"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ds, [rec for s in ("train", "bench") for rec in read_samples(ds / s / "samples.jsonl")]


def test_correspondence_matches_the_parallax_formula(dataset):
    _, recs = dataset
    by_task = {}
    for r in recs:
        by_task.setdefault(r["task"], []).append(r)
        if r["task"] == "camera_x_movement":
            a, b = r["frame_indices"]
            assert r["answer"] == ("`right`" if b > a else "`left`")
            continue
        q = r["meta"]["item"]["point"]
        want = expected(r["frame_indices"], q)
        if r["task"] == "correspondence_coord":
            assert r["meta"]["value"] == want and r["answer"] == f"`[{want[0]}, {want[1]}]`"
            assert f"[{q[0]}, {q[1]}]" in r["question"]
        else:
            pts = {p["label"]: p for p in r["meta"]["points"] if p["image"] == 1}
            assert [pts[r["answer"]]["x"], pts[r["answer"]]["y"]] == want
            assert r["options"][r["answer"]] == f"the {pts[r['answer']]['colour']} circle"
            assert len(pts) == 4 and len({p["colour"] for p in r["meta"]["points"]}) == 5
            assert len(r["meta"]["refs"]) == 5 and all("/p/" in m for m in r["media"])
    assert set(by_task) == {"correspondence_coord", "correspondence_mcq", "camera_x_movement"}


def test_correspondence_audit_catches_a_moved_answer(dataset):
    ds, _ = dataset
    cli = [sys.executable, "-m", "qa4d.cli", "audit", str(ds)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    p = ds / "bench" / "samples.jsonl"
    lines = p.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if json.loads(ln)["task"] == "correspondence_coord")
    rec = json.loads(lines[k])
    rec["meta"]["value"][0] += 30
    lines[k] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode != 0
    assert [d["id"] for d in json.loads((ds / "audit.json").read_text())["disagreements"]] == [rec["id"]]
