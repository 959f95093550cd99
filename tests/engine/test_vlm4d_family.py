"""vlm4d family: hand-made scenes with closed-form motion give the expected labels and counts;
a small simulated run generates, audits and scores 1.0 with the oracle and obedient models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa4d.engine.families.vlm4d import _base as vb
from qa4d.engine.families.vlm4d.counting import count
from qa4d.engine.registry import thresholds_for
from tests.engine.toy_scenes import look_at, make_scene, object_path, pose, static_camera

T = 10
FRAMES = list(range(T))
TH = thresholds_for("vlm4d", "test")


def trucking_camera(step: float) -> np.ndarray:
    """Camera at (0, -6, 1.5) looking along +y (its right axis is world +x), moving +x by `step` per frame."""
    return np.stack([look_at(np.array([step * t, -6.0, 1.5]), np.array([step * t, 0.0, 0.5])) for t in range(T)])


def test_object_slower_than_trucking_camera_moves_right_although_it_drifts_left_in_view():
    cam = trucking_camera(0.2)
    obj = object_path([[0.1 * t, 0.0, 0.5] for t in range(T)])
    sc = make_scene(cam, [obj])
    # independent expectation: in the moving camera's own frame the object drifts left (x falls)
    x_cam = [(np.linalg.inv(cam[t]) @ np.append(obj[t, :3, 3], 1.0))[0] for t in (0, T - 1)]
    assert x_cam[1] < x_cam[0] - 0.5
    assert vb.direction(sc, 1, FRAMES, TH) == "right"
    assert vb.group(sc, FRAMES, TH) == "exo"


def test_towards_and_up_and_static_under_moving_camera():
    cam = trucking_camera(0.2)
    towards = object_path([[1.0, -0.12 * t, 0.5] for t in range(T)])
    up = object_path([[-1.0, 0.0, 0.5 + 0.12 * t] for t in range(T)])
    still = object_path([[0.0, 1.0, 0.5]] * T)
    sc = make_scene(cam, [towards, up, still])
    assert vb.direction(sc, 1, FRAMES, TH) == "towards"
    assert vb.direction(sc, 2, FRAMES, TH) == "up"
    assert vb.direction(sc, 3, FRAMES, TH) is None           # not moving: no direction label
    assert vb.max_shift(sc, 3, FRAMES) == 0.0
    assert vb.spin(sc, 3, FRAMES, TH) == "not_spinning"
    assert count(sc, "translating", FRAMES, FRAMES, TH) == 2
    from qa4d.engine.families.vlm4d.false_positive import still

    assert [still(sc, i, FRAMES, TH) for i in (1, 2, 3)] == [False, False, True]   # "not moving" for 3 only
    assert count(sc, "rotating", FRAMES, FRAMES, TH) == 0


def test_diagonal_motion_has_no_single_direction():
    sc = make_scene(static_camera(T), [object_path([[0.1 * t, -0.1 * t, 0.5] for t in range(T)])])
    assert vb.direction(sc, 1, FRAMES, TH) is None


def test_spinning_in_place_directions_and_counts():
    rates = [20.0, -15.0, 0.0, 35.0]   # degrees per frame, + = counter-clockwise from above
    objs = [object_path([[x, 0.0, 0.5]] * T, yaws=[r * t for t in range(T)]) for x, r in zip((-1.5, -0.5, 0.5, 1.5), rates)]
    sc = make_scene(static_camera(T), objs)
    assert [vb.spin(sc, i + 1, FRAMES, TH) for i in range(4)] == ["ccw", "cw", "not_spinning", "ccw"]
    assert count(sc, "rotating", FRAMES, FRAMES, TH) == 3
    assert count(sc, "translating", FRAMES, FRAMES, TH) == 0


def test_slow_spin_is_dropped_not_guessed():
    sc = make_scene(static_camera(T), [object_path([[0, 0, 0.5]] * T, yaws=[2.0 * t for t in range(T)])])  # 18 deg total
    assert vb.spin(sc, 1, FRAMES, TH) is None
    assert count(sc, "rotating", FRAMES, FRAMES, TH) is None


def test_camera_riding_on_an_agent_is_ego_and_not_counted():
    agent = object_path([[0.1 * t, -3.0, 0.2] for t in range(T)], yaws=[3.0 * t for t in range(T)])
    mount = pose(translation=(0.3, 0.0, 0.3)) @ look_at(np.zeros(3), np.array([1.0, 0.0, -0.2]))
    cam = agent @ mount
    other = object_path([[0.0, 1.0, 0.5]] * T)
    sc = make_scene(cam, [agent, other], agents=(0,))
    assert vb.camera_mount(sc, FRAMES, TH) == 1
    assert vb.group(sc, FRAMES, TH) == "ego"
    assert count(sc, "translating", FRAMES, FRAMES, TH) == 0   # only the carrier moves


def test_absent_category_needs_no_shared_word():
    import dataclasses

    sc = make_scene(static_camera(T), [object_path([[0, 0, 0.5]] * T)])
    sc.meta.objects[0] = dataclasses.replace(sc.meta.objects[0], category="soccer ball", caption="the soccer ball")
    assert not vb.is_absent(sc, "ball")
    assert vb.is_absent(sc, "duck")
    assert vb.option_text("absent:duck") == "no duck there"


def test_own_frame_forward_turning_left_and_backward():
    from qa4d.engine.families.vlm4d.translational_own import own_motion

    # an arc of radius 2 m about (0, 2): heading +x at the start, 40 degrees to the left at the end
    a = np.radians(np.linspace(0, 40, T))
    left_arc = object_path(np.c_[2 * np.sin(a), 2 - 2 * np.cos(a), np.full(T, 0.3)], yaws=np.degrees(a))
    straight = object_path([[2.0, 0.15 * t, 0.3] for t in range(T)], yaws=[90.0] * T)   # heading +y, drives +y
    reverse = object_path([[-2.0 - 0.15 * t, 0.0, 0.3] for t in range(T)])              # heading +x, drives -x
    sc = make_scene(static_camera(T), [left_arc, straight, reverse], agents=(0, 1, 2))
    assert own_motion(sc, 1, FRAMES, TH) == ("forward", "turn_left")
    assert own_motion(sc, 2, FRAMES, TH) == ("forward", "straight")
    assert own_motion(sc, 3, FRAMES, TH) == ("backward", None)
    from qa4d.engine.registry import get_task

    task = get_task("vlm4d", "translational_own")
    rec = {"meta": {"objects": [1], "own": "move"}}
    assert not task.wrong(sc, rec, "turn_left", "forward", FRAMES, TH)   # also true: never a distractor
    assert task.wrong(sc, rec, "turn_right", "forward", FRAMES, TH)
    assert task.wrong(sc, rec, "backward", "forward", FRAMES, TH)


def test_hops_and_reversals_closed_form():
    from qa4d.engine.families.vlm4d import _events
    from qa4d.engine.families.vlm4d.counting import events

    t = np.arange(61) / 20.0                       # 3 s at 20 fps
    z = np.maximum(0.0, 0.3 * np.sin(2 * np.pi * t))  # airborne for the first half of each of 3 seconds
    assert _events.hops(z, 0.01, 0.05) == 3
    assert _events.hops(z[5:], 0.01, 0.05) is None  # starts in the air
    tri = np.abs(((t / 0.5) % 2) - 1)             # triangle wave: turns at every 0.5 s
    assert _events.reversals(tri, 0.03, 0.1) == 5
    assert _events.reversals(t, 0.03, 0.1) == 0
    assert _events.reversals(np.r_[t[:20], t[19] - 0.05, t[19] + 0.1], 0.03, 0.1) is None  # 5 cm back: unclear
    # an object going back and forth twice along x (3 reversals) on the ground, seen on every other frame
    x = 0.6 * np.abs(((np.arange(41) / 10.0) % 2) - 1)
    sc = make_scene(static_camera(41), [object_path(np.c_[x, np.zeros(41), np.full(41, 0.5)])])
    assert events(sc, 1, "reversal", list(range(41)), list(range(0, 41, 2)), TH) == 3
    assert events(sc, 1, "hop", list(range(41)), list(range(0, 41, 2)), TH) == 0


# ------------------------------------------------------------------------------ end to end

PY = [sys.executable, "-m", "qa4d.cli"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm4d")
    env = {"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    import os

    env = {**os.environ, **env}
    sh = lambda *a: subprocess.run([*PY, *a], env=env, capture_output=True, text=True, check=True)  # noqa: E731
    sh("simulate", "--out", str(root / "s"), "--scenes", "10", "--frames", "16", "--size", "64", "--seed", "2",
       "--kinds", "spinning", "camera_motion", "ego", "repeated", "mixed")
    sh("generate", "--scenes", str(root / "s"), "--out", str(root / "d"), "--seed", "1", "--families", "vlm4d")
    audit = subprocess.run([*PY, "audit", str(root / "d")], env=env, capture_output=True, text=True)
    scores = {}
    for m in ("oracle", "obedient"):
        sh("eval", "--benchmark", str(root / "d" / "bench"), "--model", m, "--out", str(root / m))
        scores[m] = json.loads((root / m / "metrics.json").read_text())["overall"]["accuracy"]
    return root, audit, scores


def test_simulated_generate_audit_eval(run):
    root, audit, scores = run
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert scores == {"oracle": 1.0, "obedient": 1.0}
    recs = [json.loads(x) for s in ("train", "bench") for x in (root / "d" / s / "samples.jsonl").read_text().splitlines()]
    # counting is asked only when a split has every count 0-3 of a wording (10 small scenes may not)
    assert {r["task"] for r in recs} >= {"rotational", "false_positive"}
    for r in recs:
        assert len(r["options"]) == 4 and r["options"][r["answer"]] == r["meta"]["value"]
        assert r["meta"]["group"] in ("ego", "exo")
        if r["task"] == "counting":
            assert r["meta"]["motion"] in ("translating", "rotating", "repeated")
            assert (r["meta"]["motion"] == "repeated") == (r["meta"].get("event") in ("hop", "reversal"))
            assert sorted(r["options"].values()) == ["0", "1", "2", "3"]
    # counting: per split and wording, every count 0-3 is the answer equally often (uniform over
    # the options offered, so no option value, rank or wording tells the answer)
    per: dict = {}
    for s in ("train", "bench"):
        for line in (root / "d" / s / "samples.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["task"] == "counting":
                style = per.setdefault((s, r["meta"]["style"]), {})
                style[r["meta"]["value"]] = style.get(r["meta"]["value"], 0) + 1
    for key, got in per.items():
        assert sorted(got) == ["0", "1", "2", "3"] and len(set(got.values())) == 1, (key, got)
        if r["meta"].get("fp") == "absent":
            assert r["meta"]["objects"] == [] and r["meta"]["value"] == f"no {r['meta']['absent_category']} there"


def test_labels_agree_with_simulator_ground_truth(run):
    """Our labels come from poses; the simulator's own record (extra.sim) is the cross-check."""
    from qa4d.scene import load_scene

    root = run[0]
    th = thresholds_for("vlm4d", "sim")
    checked = {"spin": 0, "direction": 0, "still": 0}
    for d in sorted((root / "s").iterdir()):
        sc = load_scene(d)
        sim = sc.meta.extra["sim"]
        frames = list(range(sc.num_frames))
        assert vb.group(sc, frames, th) == ("ego" if sim["camera_mount"] == "agent" else "exo")
        if sim["kind"] == "spinning":
            for s in sim["spinning"]["objects"]:
                assert vb.spin(sc, s["id"], frames, th) == s["direction"]
                checked["spin"] += 1
            for oid in sim["spinning"]["not_spinning"]:
                assert vb.spin(sc, oid, frames, th) == "not_spinning"
            n = count(sc, "rotating", frames, frames, th)
            assert n in (None, sim["spinning"]["counts"]["spinning"])  # None: an object half in view
        if sim["kind"] == "camera_motion" and sim["camera_motion"]["move"] in ("truck", "dolly"):
            for o in sim["camera_motion"]["objects"]:
                got = vb.direction(sc, o["id"], frames, th)
                if o["world_direction"] == "not moving":
                    assert got is None and vb.max_shift(sc, o["id"], frames) == 0.0
                    checked["still"] += 1
                else:  # the world direction, never the apparent one
                    want = o["world_direction"]
                    assert got in (None, want)
                    checked["direction"] += got == want
        if sim["kind"] == "repeated" and sim["repeated"]["event"] in ("hop", "oscillate"):
            from qa4d.engine.families.vlm4d.counting import events

            r = sim["repeated"]
            ev = "hop" if r["event"] == "hop" else "reversal"
            want = r["count"] if ev == "hop" else r["reversals"]
            assert events(sc, r["object"], ev, frames, frames, th) in (None, want)
            checked["events"] = checked.get("events", 0) + (events(sc, r["object"], ev, frames, frames, th) == want)
    assert checked["spin"] > 0 and checked["direction"] > 0 and checked.get("events", 0) > 0


def test_audit_check_catches_a_wrong_answer_and_a_wrong_group(run):
    from qa4d.engine.registry import get_task
    from qa4d.scene import load_scene

    root = run[0]
    recs = [json.loads(x) for x in (root / "d" / "train" / "samples.jsonl").read_text().splitlines()]
    seen = set()
    for r in recs:
        if r["task"] in seen:
            continue
        seen.add(r["task"])
        task = get_task("vlm4d", r["task"])
        sc = load_scene(root / "s" / r["scene_id"])
        th = thresholds_for("vlm4d", sc.meta.source)
        assert task.check(r, sc, th) == []
        wrong = next(k for k in r["options"] if k != r["answer"])
        assert task.check({**r, "answer": wrong}, sc, th)
        flipped = {"ego": "exo", "exo": "ego"}[r["meta"]["group"]]
        assert any("group" in p for p in task.check({**r, "meta": {**r["meta"], "group": flipped}}, sc, th))
    assert len(seen) >= 3
