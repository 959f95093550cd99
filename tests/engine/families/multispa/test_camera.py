"""MultiSPA camera-movement tasks on hand-made scenes whose camera path is known in closed form.

Scene `truck`: the eye moves along world x at 0.15 m per frame while looking at a fixed target,
so the camera both translates and turns. Scene `dolly`: eye and target move together by
(0, 0.2, 0.05) m per frame: a pure translation, no rotation (yaw and pitch are never asked).
Expected answers are computed here from the eye and target positions alone (camera axes from
the look direction: X = forward x up, Y = forward x X, Z = forward), not from the scene's matrices.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from tests.engine import toy

EYE0, TARGET0 = np.array([0.0, -6.0, 2.0]), np.array([0.0, 0.0, 0.5])
SPECS = {
    "truck": dict(eye_velocity=(0.15, 0.0, 0.0), target_velocity=(0.0, 0.0, 0.0)),
    "dolly": dict(eye_velocity=(0.0, 0.2, 0.05), target_velocity=(0.0, 0.2, 0.05)),
}
CAMERA_TASKS = ["camera_x_movement", "camera_y_movement", "camera_z_movement", "camera_yaw_movement",
                "camera_pitch_movement", "camera_yaw_angle", "camera_pitch_angle", "camera_total_distance",
                "camera_displacement_vector"]
DEAD_M, DEAD_DEG = 0.02, 1.0   # the family's default dead bands (thresholds.json)


def pose(sid: str, t: int):
    s = SPECS[sid]
    eye = EYE0 + t * np.asarray(s["eye_velocity"])
    f = TARGET0 + t * np.asarray(s["target_velocity"]) - eye
    f = f / np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return eye, np.stack([x, np.cross(f, x), f])      # rows: camera X, Y, Z in world


def expected(sid: str, a: int, b: int) -> dict:
    e1, R1 = pose(sid, a)
    e2, R2 = pose(sid, b)
    d = R1 @ (e2 - e1)
    yaw = [math.degrees(math.atan2(R[2][1], R[2][0])) for R in (R1, R2)]
    pitch = [math.degrees(math.asin(R[2][2])) for R in (R1, R2)]
    return {"d": d, "yaw": (yaw[1] - yaw[0] + 180) % 360 - 180, "pitch": pitch[1] - pitch[0]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_cam")
    objs = [toy.ToyObject("red", (-1.0, 0.0, 0.5)), toy.ToyObject("blue", (1.0, 1.0, 0.5)),
            toy.ToyObject("green", (0.0, 2.0, 0.5), radius=0.8)]
    for sid, s in SPECS.items():
        toy.build(toy.ToyScene(sid, objs, frames=10, size=64, **s), root / "scenes")
    ds = root / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out",
                        str(ds), "--families", "multispa", "--tasks", *CAMERA_TASKS, "--bench-fraction", "0.5", "--seed", "3"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    recs = [rec for s in ("train", "bench") if (ds / s / "samples.jsonl").exists()
            for rec in read_samples(ds / s / "samples.jsonl")]
    return ds, recs


AXES = {"camera_x_movement": (0, "right", "left"), "camera_y_movement": (1, "down", "up"),
        "camera_z_movement": (2, "forward", "backward")}


def test_camera_answers_match_closed_form(dataset):
    _, recs = dataset
    seen = set()
    for r in recs:
        a, b = r["frame_indices"]
        e = expected(r["scene_id"], a, b)
        task, v = r["task"], r["meta"]["value"]
        seen.add(task)
        if task in AXES:
            i, pos, neg = AXES[task]
            assert abs(e["d"][i]) > DEAD_M and v == (pos if e["d"][i] > 0 else neg) and r["answer"] == f"`{v}`"
        elif task in ("camera_yaw_movement", "camera_pitch_movement"):
            ang = e["yaw" if "yaw" in task else "pitch"]
            words = ("left", "right") if "yaw" in task else ("up", "down")
            assert abs(ang) > DEAD_DEG and v == words[0 if ang > 0 else 1] and r["answer"] == f"`{v}`"
        elif task == "camera_yaw_angle":
            assert v == round(abs(e["yaw"])) and r["answer"] == f"`{v}`" and r["meta"]["unit"] == "deg"
        elif task == "camera_pitch_angle":
            assert v == round(abs(e["pitch"]))
        elif task == "camera_total_distance":
            assert v == round(1000 * np.linalg.norm(e["d"])) and r["meta"]["unit"] == "mm"
        elif task == "camera_displacement_vector":
            assert v == [round(1000 * c) for c in e["d"]] and r["answer"] == "`[" + ", ".join(map(str, v)) + "]`"
        assert r["family"] == "multispa" and r["meta"]["media_kind"] == "images" and len(r["media"]) == 2
    # the dolly scene never turns: no yaw/pitch question comes from it
    assert not [r for r in recs if r["scene_id"] == "dolly" and ("yaw" in r["task"] or "pitch" in r["task"])]
    assert {"camera_x_movement", "camera_yaw_movement", "camera_yaw_angle", "camera_total_distance", "camera_displacement_vector",
            "camera_z_movement", "camera_y_movement"} <= seen


def test_audit_passes_and_catches_a_flipped_word(dataset):
    ds, recs = dataset
    cli = [sys.executable, "-m", "qa4d.cli", "audit", str(ds)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    split = "train" if (ds / "train" / "samples.jsonl").exists() else "bench"
    p = ds / split / "samples.jsonl"
    lines = p.read_text().splitlines()
    k = next(i for i, ln in enumerate(lines) if json.loads(ln)["task"] == "camera_x_movement")
    rec = json.loads(lines[k])
    flip = {"left": "right", "right": "left"}[rec["meta"]["value"]]
    rec["meta"]["value"] = rec["meta"]["label"] = flip
    rec["answer"] = f"`{flip}`"
    lines[k] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode != 0
    bad = json.loads((ds / "audit.json").read_text())["disagreements"]
    assert [d["id"] for d in bad] == [rec["id"]]
