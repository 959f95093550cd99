"""The r4d family: Set-of-Marks marks at the objects' innermost pixels on the first shown frame,
answers from the vlm4d / sti measurements on a hand-made scene known in closed form, and a small
simulated end-to-end run (generate -> audit -> eval oracle/obedient -> export r4d-bench -> eval)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from qa4d.engine.draw import COLOURS
from qa4d.engine.registry import get_family
from qa4d.geometry import intrinsics_from_fov, look_at, project_world
from qa4d.scene import load_scene
from tests.engine.toy import ToyObject, ToyScene, build

SIZE = 128
FRAMES = 12
MOVER_START, MOVER_V = (-0.55, 0.0, 0.5), (0.1, 0.0, 0.0)   # 0.1 m per frame to the right (+x)
STILL = (1.5, 1.0, 0.5)
SPINNER = (-1.8, 2.0, 0.5)   # spins in place, 6 degrees per frame counter-clockwise seen from above


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


def records(ds):
    return [json.loads(line) for s in ("train", "bench") for line in (ds / s / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A red ball (radius 0.5 m) moving right at 1 m/s past a still blue ball, and a green chair
    spinning in place counter-clockwise; static camera looking along +y: every answer known in
    closed form."""
    root = tmp_path_factory.mktemp("r4d_toy")
    spec = ToyScene("toy_r4d", [ToyObject("red", MOVER_START, MOVER_V), ToyObject("blue", STILL),
                                    ToyObject("green", SPINNER, yaw_rate=6.0, category="chair")],
                    frames=FRAMES, size=SIZE, eye=(0.0, -6.0, 0.5), target=(0.0, 0.0, 0.5))
    build(spec, root / "scenes")
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "r4d",
            "--segment-frames", str(FRAMES), "--bench-fraction", "0", "--samples-per-segment", "4")
    assert r.returncode == 0, r.stderr
    return root


def projected_centre(oid: int, frame: int) -> np.ndarray:
    """Pixel (u, v) of a ball's centre in the toy camera (independent of the masks)."""
    start = np.array({1: MOVER_START, 2: STILL, 3: SPINNER}[oid]) + (frame * np.array(MOVER_V) if oid == 1 else 0.0)
    K = intrinsics_from_fov(SIZE, SIZE, 60.0)
    c2w = look_at(np.array([0.0, -6.0, 0.5]), np.array([0.0, 0.0, 0.5]))
    uv, _ = project_world(start[None], K[None], c2w[None])
    return uv[0]


def test_toy_answers_are_the_closed_form_ones(toy):
    recs = records(toy / "ds")
    by_task = {}
    for r in recs:
        by_task.setdefault(r["task"], []).append(r)
    assert {"translational", "dimension_measurement", "displacement_path_length", "rotational",
            "false_positive", "video_grounding", "spatial_relationship"} <= set(by_task)
    # (counting needs three clear marks: the chair's is too close to the red ball's here;
    # tests/engine/test_r4d_counting.py has its own scene)
    assert all(len(r["options"]) == (4 if r["task"] in ("translational", "rotational", "false_positive", "counting") else 5)
               for r in recs)

    for r in by_task["rotational"]:  # the chair spins counter-clockwise, the red ball moves, the blue one stays
        want = {1: "moving_no_spin", 2: "still_no_spin", 3: "ccw"}[r["meta"]["objects"][0]]
        assert r["meta"]["label"] == want
        assert sorted(r["options"].values()) == sorted(["clockwise", "counter-clockwise", "moving without spinning",
                                                        "not spinning, and staying in place"])
        assert not any("there" in o for o in r["options"].values())
    for r in by_task["false_positive"]:  # no "no <object> there": every question has a mark
        want = {1: "right", 2: "not_moving", 3: "not_moving"}[r["meta"]["objects"][0]]
        assert r["meta"]["label"] == want and "absent_category" not in r["meta"] and "<obj_1>" in r["question"]
        assert not any("there" in o for o in r["options"].values()) and r["options"][r["answer"]] == \
            {"right": "right", "not_moving": "not moving"}[want]
    for r in by_task["spatial_relationship"]:
        assert len(r["meta"]["regions"]) == 2 and "<obj_2>" in r["question"]
    for r in by_task["translational"]:
        assert r["meta"]["objects"] == [1] and r["meta"]["label"] == "right"
        assert r["options"][r["answer"]] == "right" or "right" in r["options"][r["answer"]].lower()
        assert len(r["options"]) == 4
    for r in by_task["dimension_measurement"]:
        assert len(r["options"]) == 5
        if r["meta"]["quantity"] == "size":  # a ball of radius 0.5 m: every side 100 cm
            assert r["meta"]["value"] == 100 and r["options"][r["answer"]] == "100 cm"
        else:
            f = r["meta"]["item"]["frames"][0]
            a = np.array(MOVER_START) + f * np.array(MOVER_V)
            assert r["meta"]["value"] == pytest.approx(round(float(np.linalg.norm(a - np.array(STILL))), 2))
    for r in by_task["displacement_path_length"]:  # straight at 0.1 m/frame: both are 0.1 x frames
        f0, f1 = r["meta"]["item"]["frames"]
        assert r["meta"]["objects"] == [1]
        assert r["meta"]["value"] == pytest.approx(round(0.1 * (f1 - f0), 2))
        assert r["options"][r["answer"]] == f"{0.1 * (f1 - f0):.2f} m"


def test_marks_sit_at_the_innermost_pixel_and_show_their_number(toy):
    ds = toy / "ds"
    scene = load_scene(toy / "scenes" / "toy_r4d")
    checked, pairs = 0, 0
    for r in records(ds):
        pairs += len(r["meta"]["objects"]) == 2
        meta, fi = r["meta"], r["frame_indices"]
        assert fi[0] == fi[1] and r["media"][0] == meta["som_image"] and r["media"][1] != meta["som_image"]
        assert set(meta["regions"]) == {f"obj_{k + 1}" for k in range(len(meta["objects"]))}
        marked = np.asarray(Image.open(ds / meta["som_image"]).convert("RGB"), dtype=float)
        plain = np.asarray(Image.open(ds / r["media"][1]).convert("RGB"), dtype=float)
        for k, oid in enumerate(meta["objects"], 1):
            reg = meta["regions"][f"obj_{k}"]
            assert reg["object_id"] == oid and f"<obj_{k}>" in r["question"]
            # the innermost pixel of a disc is its centre: within a pixel of the projected centre
            u, v = projected_centre(oid, fi[0])
            assert abs(reg["x"] * SIZE - u) <= 1.0 and abs(reg["y"] * SIZE - v) <= 1.0
            # and exactly the distance-transform peak of the mask, pixel centre, normalised
            mask = np.asarray(scene.instance_mask[fi[0]]) == oid
            from scipy.ndimage import distance_transform_edt
            dt = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
            i, j = np.unravel_index(int(np.argmax(dt)), dt.shape)
            assert (reg["x"], reg["y"]) == pytest.approx(((j + 0.5) / SIZE, (i + 0.5) / SIZE), abs=1e-6)
            # the marked image: a disc of the k-th colour with a white number at its centre; the
            # plain frame shows the ball there (red / blue), no mark
            cx, cy = int(reg["x"] * SIZE), int(reg["y"] * SIZE)
            rr = max(6.0, SIZE / 16)
            yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
            ring = ((xx - reg["x"] * SIZE) ** 2 + (yy - reg["y"] * SIZE) ** 2 <= (0.9 * rr) ** 2)
            want = np.array(list(COLOURS.values())[k - 1], dtype=float)
            px = marked[ring]
            is_mark = np.linalg.norm(px - want, axis=1) < 70
            is_white = px.min(axis=1) > 150
            assert is_mark.mean() > 0.4 and is_white.sum() >= 4 and (is_mark | is_white).mean() > 0.8
            white = np.argwhere(ring & (marked.min(axis=2) > 150))
            assert abs(white[:, 0].mean() + 0.5 - reg["y"] * SIZE) < 3 and abs(white[:, 1].mean() + 0.5 - reg["x"] * SIZE) < 3
            rows, cols = np.ptp(white[:, 0]) + 1, np.ptp(white[:, 1]) + 1
            if k == 1:  # "1": one upright stroke
                assert rows >= 5 and cols <= 3, (rows, cols)
            else:       # "2": as wide as it is tall, at least
                assert rows >= 5 and cols >= 4, (rows, cols)
            ball = np.array({1: (220, 40, 40), 2: (50, 80, 230), 3: (40, 200, 60)}[oid], dtype=float)
            assert np.linalg.norm(plain[cy, cx] - ball) < 60
            checked += 1
    assert checked >= 3 and pairs >= 1


def test_audit_catches_a_moved_mark(toy):
    from qa4d.engine.registry import get_task

    scene = load_scene(toy / "scenes" / "toy_r4d")
    th = get_family("r4d").thresholds("sim")
    rec = next(r for r in records(toy / "ds") if r["task"] == "translational")
    task = get_task("r4d", "translational")
    assert task.check(rec, scene, th) == []
    bad = json.loads(json.dumps(rec))
    bad["meta"]["regions"]["obj_1"]["x"] += 0.05
    assert any("regions.obj_1" in p for p in task.check(bad, scene, th))
    bad = json.loads(json.dumps(rec))
    bad["meta"]["som_image"] = bad["media"][1]
    assert any("som_image" in p for p in task.check(bad, scene, th))


def test_thresholds_are_those_of_vlm4d_and_sti():
    """r4d asks the vlm4d / sti questions: its thresholds.json must not drift from theirs."""
    for src in ("default", "sim"):
        mine = vars(get_family("r4d").thresholds(src))
        for fam in ("vlm4d", "sti"):
            for k, v in vars(get_family(fam).thresholds(src)).items():
                assert mine[k] == v, (fam, src, k)


@pytest.fixture(scope="module")
def sim_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("r4d_e2e")
    r = cli("simulate", "--out", str(root / "scenes"), "--scenes", "8", "--frames", "24", "--size", "96",
            "--seed", "3", "--kinds", "mixed", "camera_motion", "accelerating", "spinning")
    assert r.returncode == 0, r.stderr
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "r4d",
            "--segment-frames", "24", "--bench-fraction", "0.5")
    assert r.returncode == 0, r.stderr
    return root


def test_simulated_r4d_audits_scores_one_and_round_trips_through_r4d_bench(sim_dataset):
    ds = sim_dataset / "ds"
    recs = records(ds)
    assert recs and all(r["family"] == "r4d" and r["meta"]["reference"] == "set_of_marks" for r in recs)
    assert len({r["task"] for r in recs}) >= 6
    r = cli("audit", str(ds))
    assert r.returncode == 0 and "audit passed" in r.stdout + r.stderr, r.stdout + r.stderr
    for model in ("oracle", "obedient"):
        out = sim_dataset / model
        r = cli("eval", "--benchmark", str(ds / "bench"), "--model", model, "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert json.loads((out / "metrics.json").read_text())["overall"]["accuracy"] == 1.0
    exp = sim_dataset / "exp"
    r = cli("export", str(ds), "--format", "r4d-bench", "--split", "bench", "--out", str(exp))
    assert r.returncode == 0, r.stderr
    rows = json.loads((exp / "test.json").read_text())
    bench = [x for x in recs if x["id"] in {row["id"] for row in rows}]
    assert len(rows) == len(bench) > 0 and all(row["som_image"] and (exp / row["som_image"]).is_file() for row in rows)
    out = sim_dataset / "exp_oracle"
    r = cli("eval", "--benchmark", "r4d-bench", "--annotations", str(exp / "test.json"), "--media-root", str(exp),
            "--model", "oracle", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "metrics.json").read_text())["overall"]["accuracy"] == 1.0
