"""The sti family against motion and boxes known in closed form, its options against the
tolerances, and a small simulated end-to-end run (generate -> audit -> eval oracle/obedient)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qa4d.engine.config import GenerateConfig
from qa4d.engine.families.sti import _geom
from qa4d.engine.families.sti.motion import DisplacementPathLength, SpeedAcceleration
from qa4d.engine.families.sti.static import DimensionMeasurement, SpatialRelationship, VideoGrounding
from qa4d.engine.kinds.base import RenderEnv, Skip, _jsonable
from qa4d.engine.registry import get_family
from qa4d.geometry import look_at, rotation_about_axis
from tests.engine.toy_scenes import make_scene, object_path, pose, static_camera

FPS = 10.0  # make_scene's frame rate
T = 30
TH = get_family("sti").thresholds("default")


def item(objects, frames, **kw):
    return {"objects": list(objects), "frames": list(frames), "fps": FPS, **kw}


def level_camera(eye=(1.0, 0.0, 1.0), target=(1.0, 5.0, 1.0)) -> np.ndarray:
    return np.repeat(look_at(np.array(eye, float), np.array(target, float))[None], T, axis=0)


# ------------------------------------------------------------------------------ scenes


@pytest.fixture(scope="module")
def approach():
    """Object 1 comes straight towards the camera at 0.5 m/s; object 2 speeds up along x from
    0.2 m/s at 0.8 m/s^2; object 3 swings back and forth (not constant acceleration)."""
    t = np.arange(T) / FPS
    p1 = np.stack([np.zeros(T), 3.0 - 0.5 * t, np.full(T, 0.2)], axis=1)
    p2 = np.stack([-1.0 + 0.2 * t + 0.4 * t * t, np.full(T, 1.0), np.full(T, 0.2)], axis=1)
    p3 = np.stack([1.0 + 0.3 * np.sin(2.0 * t), np.full(T, 1.0), np.full(T, 0.2)], axis=1)
    return make_scene(static_camera(T), [object_path(p) for p in (p1, p2, p3)])


def test_constant_speed_approach_gives_exact_displacement_path_length_and_speed(approach):
    dp, sa = DisplacementPathLength(), SpeedAcceleration()
    it = item([1], [2, 12])  # 1.0 s at 0.5 m/s
    assert dp.measure(approach, {**it, "quantity": "displacement"}, TH) == pytest.approx(0.5, abs=1e-12)
    assert dp.measure(approach, {**it, "quantity": "path_length"}, TH) == pytest.approx(0.5, abs=1e-12)
    assert sa.measure(approach, {**it, "quantity": "speed"}, TH) == pytest.approx(0.5, abs=1e-12)
    # constant speed: |a| = 0 is below accel_min_mps2, not asked
    assert sa.measure(approach, {**it, "quantity": "acceleration"}, TH) is None


def test_constant_acceleration_is_recovered_exactly(approach):
    sa = SpeedAcceleration()
    it = item([2], [5, 25])
    assert sa.measure(approach, {**it, "quantity": "acceleration"}, TH) == pytest.approx(0.8, abs=1e-9)
    t0, t1 = 0.5, 2.5
    path = 0.2 * (t1 - t0) + 0.4 * (t1 ** 2 - t0 ** 2)
    assert sa.measure(approach, {**it, "quantity": "speed"}, TH) == pytest.approx(path / (t1 - t0), abs=1e-12)


def test_acceleration_is_dropped_when_not_constant_or_too_short(approach):
    sa = SpeedAcceleration()
    assert sa.measure(approach, item([3], [0, 14], quantity="acceleration"), TH) is None   # swinging
    assert sa.measure(approach, item([2], [5, 7], quantity="acceleration"), TH) is None    # 3 frames


def test_path_length_exceeds_displacement_for_a_return_trip(approach):
    dp = DisplacementPathLength()
    # sin(2t) rises until t = pi/4 and falls after: over [0, 1.2] s the object turns back
    x = 0.3 * np.sin(2.0 * np.arange(0, 13) / FPS)
    want_path = float(np.abs(np.diff(x)).sum())
    assert want_path > abs(x[-1]) + 0.15
    assert dp.measure(approach, item([3], [0, 12], quantity="path_length"), TH) == pytest.approx(want_path, abs=1e-12)
    assert dp.measure(approach, item([3], [0, 12], quantity="displacement"), TH) == pytest.approx(abs(x[-1]), abs=1e-12)
    # over [0, 1.5] s it ends 4 cm from its start: below min_path_m, not asked
    assert dp.measure(approach, item([3], [0, 15], quantity="displacement"), TH) is None


@pytest.fixture(scope="module")
def boxes():
    """Object 1: upright box 40 x 20 x 30 cm at (2, 4, 0.5) turned 30 degrees; object 2: a box
    50 cm tall tipped over by 30 degrees; object 3: 3 m to the right of, and level with, object 1."""
    p1 = pose(rotation_about_axis(np.array([0.0, 0.0, 1.0]), 30.0), (2.0, 4.0, 0.5))
    p2 = pose(rotation_about_axis(np.array([1.0, 0.0, 0.0]), 30.0), (0.0, 4.0, 0.5))
    p3 = pose(None, (5.0, 4.0, 0.5))
    poses = [np.repeat(p[None], T, axis=0) for p in (p1, p2, p3)]
    ext = [[0.4, 0.2, 0.3], [0.3, 0.2, 0.5], [0.2, 0.2, 0.2]]
    return make_scene(level_camera(), poses, extents=ext), make_scene(level_camera(target=(1.0, 5.0, -1.0)), poses, extents=ext)


def test_dimensions_of_static_boxes(boxes):
    scene, _ = boxes
    dm = DimensionMeasurement()
    assert dm.measure(scene, item([1], [0], quantity="size", size="longest_side"), TH) == pytest.approx(40.0)
    assert dm.measure(scene, item([1], [0], quantity="size", size="height"), TH) == pytest.approx(30.0)
    assert dm.measure(scene, item([2], [0], quantity="size", size="longest_side"), TH) == pytest.approx(50.0)
    assert dm.measure(scene, item([2], [0], quantity="size", size="height"), TH) is None  # tipped over
    assert dm.measure(scene, item([1, 3], [4], quantity="distance"), TH) == pytest.approx(3.0, abs=1e-12)


def test_grounding_box_is_exact_in_the_levelled_first_camera(boxes):
    vg = VideoGrounding()
    for scene in boxes:  # a level camera and one pitched down by ~21 degrees: same levelled frame
        box = vg.measure(scene, item([1], [0]), TH)
        assert box["dimensions"] == pytest.approx([40.0, 20.0, 30.0])
        assert box["central_point"] == pytest.approx([1.0, 4.0, -0.5], abs=1e-9)
        assert box["yaw"] == pytest.approx(30.0, abs=1e-9)
        assert json.loads(vg.answer_text(None, box)) == {
            "dimensions": [40, 20, 30], "central_point": [1.0, 4.0, -0.5], "orientation": {"yaw": 30}}
    assert vg.measure(boxes[0], item([2], [0]), TH) is None  # tilted: a yaw does not describe it


def test_boxes_differ_knows_the_symmetries_of_a_box():
    tol = VideoGrounding.box_tol(TH)
    a = {"dimensions": [40, 20, 30], "central_point": [1.0, 4.0, -0.5], "yaw": 30}
    assert not _geom.boxes_differ(a, {**a, "yaw": -150}, tol)                            # half turn
    assert not _geom.boxes_differ(a, {**a, "dimensions": [20, 40, 30], "yaw": 120}, tol)  # quarter turn
    assert _geom.boxes_differ(a, {**a, "yaw": 50}, tol)
    assert _geom.boxes_differ(a, {**a, "central_point": [1.0, 4.2, -0.5]}, tol)
    assert _geom.boxes_differ(a, {**a, "dimensions": [40, 20, 40]}, tol)


def test_spatial_relationship_in_the_camera_of_the_stated_time(boxes):
    scene, pitched = boxes
    sr = SpatialRelationship()
    for s in (scene, pitched):
        assert sr.measure(s, item([3, 1], [0]), TH) == "right,level,level"
        assert sr.measure(s, item([1, 3], [0]), TH) == "left,level,level"
        assert sr.measure(s, item([1, 2], [0]), TH) == "right,level,level"  # 2 m apart along x only
    # a moving camera: at frame 20 it has turned to look along -x, so object 3 is in front of 1
    c2w = level_camera()
    c2w[20:] = look_at(np.array([8.0, 4.0, 1.0]), np.array([0.0, 4.0, 1.0]))
    s2 = make_scene(c2w, [scene.object_to_world[i] for i in range(3)], extents=scene.object_extent)
    assert sr.measure(s2, item([3, 1], [20]), TH) == "centred,nearer,level"
    assert sr.measure(s2, item([1, 3], [20]), TH) == "centred,farther,level"
    # offsets (right, forward, up) of object 2 from object 1, seen from the level camera looking along +y
    cases = {(1.0, 1.2, 0.0): "right,farther,level", (-0.8, 0.0, 0.05): "left,level,level",
             (0.05, -0.05, 0.6): "centred,level,higher", (0.5, -0.4, -0.35): "right,nearer,lower",
             (0.2, 0.25, 0.0): None,    # no clear offset (0.25 < 0.3 m)
             (0.5, 0.2, 0.0): None,     # right, but the depth offset is between the bands (0.1 < 0.2 < 0.3)
             (0.0, 0.0, 0.2): None,     # level horizontally, vertical offset between the bands
             (0.05, 0.0, 0.0): None}    # all level: no relation to ask about
    for off, want in cases.items():
        s3 = make_scene(level_camera(), [np.repeat(pose(None, p)[None], T, 0)
                                         for p in ((0.0, 4.0, 0.5), np.add((0.0, 4.0, 0.5), off))])
        assert sr.measure(s3, item([2, 1], [0]), TH) == want, off
        if want is not None:
            for out in render_all(sr, s3, item([2, 1], [0])):
                assert out["meta"]["value"] == sr.phrases[want] == out["options"][out["answer"]]
                assert sr.check(as_record(sr, out), s3, TH) == []


# ------------------------------------------------------------------------------ options


def candidate(task, scene, it):
    value = task.measure(scene, it, TH)
    shown = sorted({0, T - 1, *it["frames"]})  # the stated frames are always shown
    return {"uid": "toy/x/00000-000", "scene_id": "toy", "segment": [0, T], "frame_indices": shown,
            "timestamps": [f / FPS for f in shown], "item": it, "objects": it["objects"], "value": value,
            "measurement": _jsonable(task.measurement(scene, it, value)), "key": task.key_of(it, value),
            "refs": [{"kind": "object", "object": o, "mode": "caption"} for o in it["objects"]],
            "option_params": task.option_params(it, value, TH, scene)}


def render_all(task, scene, it):
    cand = candidate(task, scene, it)
    env = RenderEnv(scene_meta=scene.meta, config=GenerateConfig(scenes="-", out="-"), pool={})
    return [task.render(cand, "mc", c, np.random.default_rng(c), env) for c in range(5)]


def as_record(task, out):
    it = out["meta"]["item"]
    shown = sorted({0, T - 1, *it["frames"]})
    return {"task": task.name, "answer_format": "mc", "frame_indices": shown,
            "timestamps": [round(f / FPS, 6) for f in shown], **out}


@pytest.mark.parametrize("task,objs,frames,extra", [
    (DisplacementPathLength(), [1], [2, 12], {"quantity": "displacement", "unit": "m", "decimals": 2}),
    (SpeedAcceleration(), [2], [5, 25], {"quantity": "acceleration", "unit": "m/s²", "decimals": 2}),
    (SpeedAcceleration(), [1], [2, 12], {"quantity": "speed", "unit": "m/s", "decimals": 2}),
])
def test_numeric_options_keep_out_of_the_tolerance_and_pass_the_check(approach, task, objs, frames, extra):
    it = item(objs, frames, **extra)
    exact = task.measure(approach, it, TH)
    for choice, out in enumerate(render_all(task, approach, it)):
        rec = as_record(task, out)
        assert rec["answer"] == "ABCDE"[choice]
        vals = list(out["meta"]["option_values"].values())
        assert vals == sorted(vals) and len(set(vals)) == 5
        tol = max(TH.tolerance_rel[extra["quantity"]] * abs(exact), TH.tolerance_abs_si[extra["quantity"]])
        others = [v for i, v in enumerate(vals) if i != choice]
        assert min(abs(v - exact) for v in others) > tol
        assert out["meta"]["value"] == round(exact, 2) and out["meta"]["unit"] == extra["unit"]
        assert out["meta"]["time_window"] == [frames[0] / FPS, frames[1] / FPS]
        # times as stated: seconds with 2 decimals, and which shown image (image 2 and 3 of 0, f0, f1, 29)
        assert f"{frames[0] / FPS:.2f} s (" in out["question"] and f"{frames[1] / FPS:.2f} s (" in out["question"]
        assert task.check(rec, approach, TH) == []
    # a wrong value, a wrong clock and a distractor moved inside the tolerance are caught
    bad = json.loads(json.dumps(rec))
    bad["meta"]["value"] = round(out["meta"]["value"] + 0.02, 2)
    assert any("meta.value" in p for p in task.check(bad, approach, TH))
    bad = json.loads(json.dumps(rec))
    bad["timestamps"] = [2 * t for t in bad["timestamps"]]
    assert any("timestamps" in p for p in task.check(bad, approach, TH))
    bad = json.loads(json.dumps(rec))
    wrong = "A" if rec["answer"] != "A" else "B"
    bad["meta"]["option_values"][wrong] = out["meta"]["value"] + 0.01
    bad["options"][wrong] = f"{out['meta']['value'] + 0.01:.2f} {extra['unit']}"
    assert any("within the tolerance" in p for p in task.check(bad, approach, TH))


def test_size_ladder_stays_positive_or_is_skipped(boxes):
    dm = DimensionMeasurement()
    it = item([1], [0], quantity="size", size="height", unit="cm", decimals=0)
    outs = render_all(dm, boxes[0], it)
    for out in outs:
        assert all(v > 0 for v in out["meta"]["option_values"].values())
    tiny = make_scene(level_camera(), [np.repeat(pose(None, (1, 4, 0.5))[None], T, 0)], extents=[[0.03, 0.03, 0.03]])
    it = item([1], [0], quantity="size", size="longest_side", unit="cm", decimals=0)
    cand = candidate(dm, tiny, it)
    env = RenderEnv(scene_meta=tiny.meta, config=GenerateConfig(scenes="-", out="-"), pool={})
    with pytest.raises(Skip):  # 3 cm, tolerance 2 cm: four smaller options cannot all be > 0
        dm.render(cand, "mc", 4, np.random.default_rng(0), env)


def test_grounding_and_relation_options_pass_the_check_and_catch_a_swap(boxes):
    scene = boxes[1]
    vg, sr = VideoGrounding(), SpatialRelationship()
    for out in render_all(vg, scene, item([1], [0])):
        rec = as_record(vg, out)
        assert vg.check(rec, scene, TH) == []
        assert len({o for o in rec["options"].values()}) == 5
    bad = json.loads(json.dumps(rec))
    other = "A" if rec["answer"] != "A" else "B"
    bad["options"][rec["answer"]], bad["options"][other] = bad["options"][other], bad["options"][rec["answer"]]
    assert vg.check(bad, scene, TH)
    for out in render_all(sr, scene, item([3, 1], [0])):
        rec = as_record(sr, out)
        assert out["meta"]["value"] == "to the right, at about the same distance from the camera, at about the same height"
        assert sr.check(rec, scene, TH) == []  # every other option contradicts the offset (3, 0, 0) m
    bad = json.loads(json.dumps(rec))
    other = "A" if rec["answer"] != "A" else "B"
    bad["options"][other], bad["meta"]["option_labels"][other] = rec["options"][rec["answer"]], "right,level,level"
    assert any("not clearly false" in p for p in sr.check(bad, scene, TH))
    bad["options"][other], bad["meta"]["option_labels"][other] = sr.phrases["right,farther,level"], "wrong_key"
    assert any("does not match" in p for p in sr.check(bad, scene, TH))


def test_relation_distractors_come_from_the_answered_relations(boxes):
    """Options are drawn among the relations that are answers (env.pool): when (as on simulated
    ground planes) every answer is level in height, no option says "higher" or "lower", so the
    word "height" is in all five options or none and cannot tell the answer. With answers uniform
    over the pool, each relation is right in 1/5 of the questions offering it."""
    scene = boxes[1]
    sr = SpatialRelationship()
    it = item([3, 1], [0])
    truth = sr.measure(scene, it, TH)
    assert truth == "right,level,level"
    answered = ["right,level,level", "left,level,level", "right,farther,level", "left,nearer,level",
                "centred,farther,level", "centred,nearer,level"]
    cand = candidate(sr, scene, it)
    env = RenderEnv(scene_meta=scene.meta, config=GenerateConfig(scenes="-", out="-"),
                    pool={lab: 3 for lab in answered})
    offered = {lab: 0 for lab in answered}
    for c in range(200):
        out = sr.render(cand, "mc", c % 5, np.random.default_rng(c), env)
        labels = list(out["meta"]["option_labels"].values())
        assert set(labels) <= set(answered) and len(set(labels)) == 5
        assert all("height" in t for t in out["options"].values())
        assert sr.check(as_record(sr, out), scene, TH) == []
        for lab in labels:
            offered[lab] += lab != truth
    # the four distractors are a uniform draw of the five other answered relations: 160 each
    assert all(120 <= n <= 200 for lab, n in offered.items() if lab != truth), offered
    # too few answered relations: those first, then other clearly false ones fill the set
    env.pool = {"right,level,level": 2, "left,level,level": 2}
    for c in range(5):
        labels = list(sr.render(cand, "mc", c, np.random.default_rng(c), env)["meta"]["option_labels"].values())
        assert "left,level,level" in labels and len(set(labels)) == 5


# ------------------------------------------------------------------------------ end to end


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def sim_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("sti_e2e")
    r = cli("simulate", "--out", str(root / "scenes"), "--scenes", "6", "--frames", "24", "--size", "64",
            "--seed", "3", "--kinds", "accelerating", "mixed", "camera_motion")
    assert r.returncode == 0, r.stderr
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "sti",
            "--segment-frames", "24", "--bench-fraction", "0.5")
    assert r.returncode == 0, r.stderr
    return root


def test_simulated_sti_dataset_audits_and_scores_one_for_oracle_and_obedient(sim_dataset):
    ds = sim_dataset / "ds"
    recs = [json.loads(line) for s in ("train", "bench") for line in (ds / s / "samples.jsonl").read_text().splitlines()]
    tasks = {r["task"] for r in recs}
    assert {"video_grounding", "dimension_measurement", "displacement_path_length", "speed_acceleration"} <= tasks
    assert all(r["family"] == "sti" and len(r["options"]) == 5 for r in recs)
    r = cli("audit", str(ds))
    assert r.returncode == 0 and "audit passed" in r.stdout + r.stderr, r.stdout + r.stderr
    for model in ("oracle", "obedient"):
        out = sim_dataset / model
        r = cli("eval", "--benchmark", str(ds / "bench"), "--model", model, "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert json.loads((out / "metrics.json").read_text())["overall"]["accuracy"] == 1.0


def test_simulated_accelerations_agree_with_the_simulator_record(sim_dataset):
    """Cross-check against extra.sim (never used to make answers): a whole-clip acceleration of
    an accelerating scene's object equals the simulator's acceleration_mps2."""
    from qa4d.scene import load_scene

    checked = 0
    for d in sorted((sim_dataset / "scenes").iterdir()):
        if not (d / "scene.json").is_file():
            continue
        meta = json.loads((d / "scene.json").read_text())
        sim = meta.get("extra", {}).get("sim", {})
        if sim.get("kind") != "accelerating":
            continue
        scene = load_scene(d)
        for o in sim["accelerating"]["objects"]:
            fps = scene.meta.fps
            f0, f1 = int(math.ceil(o["start_s"] * fps)), int(math.floor(o["end_s"] * fps))
            a = SpeedAcceleration().measure(scene, {"objects": [o["id"]], "frames": [f0, f1], "fps": fps,
                                                    "quantity": "acceleration"}, TH)
            if abs(o["acceleration_mps2"]) >= TH.accel_min_mps2:
                assert a == pytest.approx(o["acceleration_mps2"], abs=1e-6)
                checked += 1
    assert checked >= 1
