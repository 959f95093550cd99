"""MultiSPA object-movement tasks on hand-made scenes with rigid objects moving at known velocity.

Scene `slide`: a static camera at (0, -6, 2) looking at (0, 0, 0.5) (its X axis is world x); the
red ball moves 0.1 m per frame along world x. Scene `recede`: the camera itself trucks by
0.05 m per frame along x (same orientation), the ball moves 0.08 m per frame along world y (away).
Expected, from the velocities alone: a ball point moves k x speed between frames k apart, its
vector in camera-1 axes is the world velocity dotted with camera 1's X (right), Y (down) and
Z (forward) axes, written below; ground points never move (answer 0, "did not move"). The camera's
own motion must not show in any answer.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from tests.engine import toy

F = np.array([0.0, 6.0, -1.5]) / np.linalg.norm([0.0, 6.0, -1.5])      # forward of both cameras
AXES = np.stack([[1.0, 0.0, 0.0], np.cross(F, [1.0, 0.0, 0.0]), F])      # X right, Y down, Z forward
SCENES = {
    "slide": dict(velocity=(0.1, 0.0, 0.0), eye_velocity=(0.0, 0.0, 0.0)),
    "recede": dict(velocity=(0.0, 0.08, 0.0), eye_velocity=(0.05, 0.0, 0.0)),
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_move")
    for sid, s in SCENES.items():
        toy.build(toy.ToyScene(sid, [toy.ToyObject("red", (0.0, 0.0, 0.5), velocity=s["velocity"], radius=0.6)],
                               frames=8, size=64, eye_velocity=s["eye_velocity"], background_points=12), root / "scenes")
    ds = root / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "object_distance_coord", "object_distance_dot",
                        "object_vector_coord", "object_vector_dot", "--bench-fraction", "0.5", "--seed", "5"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ds, [rec for s in ("train", "bench") for rec in read_samples(ds / s / "samples.jsonl")]


def test_movement_answers_match_the_velocities(dataset):
    _, recs = dataset
    moving = static = 0
    for r in recs:
        a, b = r["frame_indices"]
        assert a < b
        on_ball = r["meta"]["object_id"] == 1
        v = np.asarray(SCENES[r["scene_id"]]["velocity"]) * (b - a) if on_ball else np.zeros(3)
        want_vec = [round(1000 * c) for c in AXES @ v]
        want = want_vec if r["task"].startswith("object_vector") else round(1000 * np.linalg.norm(v))
        assert r["meta"]["value"] == want, (r["id"], r["meta"]["value"], want)
        text = "[" + ", ".join(map(str, want)) + "]" if isinstance(want, list) else str(want)
        assert r["answer"].endswith(f"`{text}`")
        assert r["answer"].startswith("The point did not move.") == (not on_ball)
        moving += on_ball
        static += not on_ball
        (p,) = r["meta"]["points"]
        if r["task"].endswith("_coord"):
            assert f"[{p['x']}, {p['y']}]" in r["question"]
        else:
            assert r["meta"]["refs"][0]["colour"] in r["question"] and "/p/" in r["media"][0]
    assert moving and static
    assert {r["task"] for r in recs} == {"object_distance_coord", "object_distance_dot", "object_vector_coord",
                                          "object_vector_dot"}


def test_movement_audit_catches_a_wrong_vector(dataset):
    ds, _ = dataset
    cli = [sys.executable, "-m", "qa4d.cli", "audit", str(ds)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    p = ds / "bench" / "samples.jsonl"
    lines = p.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if json.loads(ln)["task"] == "object_vector_coord")
    rec = json.loads(lines[k])
    rec["meta"]["value"][2] += 50
    lines[k] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode != 0
    assert [d["id"] for d in json.loads((ds / "audit.json").read_text())["disagreements"]] == [rec["id"]]
