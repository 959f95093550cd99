"""MultiSPA depth tasks on a hand-made scene with a closed-form depth map: a static camera facing
two walls, the left half of the image at 2.0 m and the right half at 3.0 m (a step). Every depth
answer is then 2000 or 3000 mm, decided by which half the 0-999 point names, and the closer of two
points is the one on the left wall (comparisons only ask about points on different walls, since
equal depths are never asked)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from qa4d.geometry import intrinsics_from_fov
from qa4d.scene.format import SceneMeta, write_scene

S, T = 48, 6


def wall_depth_mm(x_per_mille: int) -> int:
    col = int((x_per_mille + 0.5) / 1000 * S)          # the pixel column the coordinate names
    return 2000 if col < S // 2 else 3000


def build(root, sid):
    depth = np.full((T, S, S), 3.0, np.float32)
    depth[:, :, : S // 2] = 2.0
    img = np.zeros((T, S, S, 3), np.uint8)
    img[:, :, : S // 2] = (200, 60, 60)
    img[:, :, S // 2:] = (60, 60, 200)
    c2w = np.tile(np.eye(4), (T, 1, 1))
    meta = SceneMeta(scene_id=sid, source="sim", fps=5.0, width=S, height=S, frames=[], objects=[])
    arrays = {"intrinsics": np.tile(intrinsics_from_fov(S, S, 60.0), (T, 1, 1)), "cam_to_world": c2w,
              "depth": depth, "instance_mask": np.zeros((T, S, S), np.int32)}
    write_scene(root / sid, meta, arrays, frames=list(img), image_format="png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_depth")
    for i in range(4):
        build(root / "scenes", f"walls{i}")
    ds = root / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "depth_estimation_dot", "depth_estimation_coord",
                        "depth_comparison_dot", "depth_comparison_coord", "--bench-fraction", "0.5", "--seed", "1"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ds, [rec for s in ("train", "bench") for rec in read_samples(ds / s / "samples.jsonl")]


def test_depth_answers_are_the_walls_depths(dataset):
    _, recs = dataset
    tasks = {r["task"] for r in recs}
    assert tasks == {"depth_estimation_dot", "depth_estimation_coord", "depth_comparison_dot", "depth_comparison_coord"}
    for r in recs:
        pts = r["meta"]["points"]
        if r["task"].startswith("depth_estimation"):
            (p,) = pts
            want = wall_depth_mm(p["x"])
            assert r["meta"]["value"] == want and r["answer"] == f"`{want}`" and r["meta"]["unit"] == "mm"
            if r["task"] == "depth_estimation_coord":
                assert f"[{p['x']}, {p['y']}]" in r["question"]
            else:   # the circle is drawn where the point is, and the question names its colour
                (c,) = r["meta"]["refs"]
                assert int(c["cx"]) == int((p["x"] + 0.5) / 1000 * S) and c["colour"] in r["question"]
                assert r["media"][0].endswith("_0.jpg") and "/p/" in r["media"][0]
        else:
            d = {p["label"]: wall_depth_mm(p["x"]) for p in pts}
            assert sorted(d.values()) == [2000, 3000]
            pick = min if r["meta"]["polarity"] == "closer" else max
            want = pick(d, key=d.get)
            assert r["answer"] == r["meta"]["value"] == want
            assert r["meta"]["polarity"] in r["question"] and set(r["options"]) == {"A", "B"}
        assert r["frame_indices"] and len(r["media"]) == 1


def test_depth_audit_passes_and_catches_a_wrong_depth(dataset):
    ds, recs = dataset
    cli = [sys.executable, "-m", "qa4d.cli", "audit", str(ds)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    p = ds / "bench" / "samples.jsonl"
    lines = p.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if json.loads(ln)["task"] == "depth_estimation_coord")
    rec = json.loads(lines[k])
    rec["meta"]["value"] = 5000 - rec["meta"]["value"]      # the other wall
    lines[k] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode != 0
    assert [d["id"] for d in json.loads((ds / "audit.json").read_text())["disagreements"]] == [rec["id"]]
