"""Tasks on hand-built scenes with known motion: the canonical labels, winners and tracks they
must produce, and every answer format of every task re-checked by its own `check`."""

from collections import Counter

import pytest

from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.base import LETTERS, RenderEnv, SceneContext
from qa4d.engine.families.fourdpqa.labels import load_thresholds
from qa4d.engine.registry import family_tasks, get_task
from qa4d.engine.sampling import rng_for
from qa4d.dataset import validate_record
from qa4d.scene.format import load_scene
from tests.engine import toy

CFG = dict(segment_frames=32, media_frames=6, samples_per_segment=4, ref_modes={"caption": 1.0})


def build(tmp_path, name, objects, **kw):
    return load_scene(toy.build(toy.ToyScene(name, objects, frames=kw.pop("frames", 10), size=64, **kw), tmp_path))


def candidates(scene, task_name, **cfg):
    cfg = GenerateConfig(scenes="", out="", **{**CFG, **cfg})
    ctx = SceneContext(scene=scene, config=cfg, thresholds=load_thresholds(scene.meta.source))
    return get_task("4dpqa", task_name).candidates(ctx), ctx


STILL = [toy.ToyObject("red", (-1.0, 0.0, 0.35)), toy.ToyObject("green", (1.2, 0.5, 0.35))]


def test_paper_taxonomy():
    assert family_tasks("4dpqa") == [
        "camera_movement", "camera_object_distance_change", "object_rotation", "object_direction", "agent_motion",
        "moved_distance", "object_object_distance_change", "depth", "object_object_distance", "multiview_depth",
        "multiview_object_object_distance", "visual_point_tracking", "true_motion_point_tracking"]
    cats = Counter(get_task("4dpqa", t).category for t in family_tasks("4dpqa"))
    assert cats == {"camera_motion": 2, "object_motion": 5, "spatial": 4, "point_tracking": 2}


@pytest.mark.parametrize("velocity,expect", [((0.15, 0, 0), ["right"]), ((-0.15, 0, 0), ["left"]),
                                             ((0, 0.194, -0.0485), ["forward"]), ((0, 0, 0), ["static"])])
def test_camera_movement_labels(tmp_path, velocity, expect):
    scene = build(tmp_path, "cam", STILL, eye_velocity=velocity)
    c, _ = candidates(scene, "camera_movement")
    assert [x["label"] for x in c] == [expect]


def test_camera_pan_label(tmp_path):
    # eye fixed, target sweeping to the right: the camera pans right
    scene = build(tmp_path, "pan", STILL, target_velocity=(0.15, 0, 0))
    c, _ = candidates(scene, "camera_movement")
    assert c[0]["label"] == ["pan_right"]


def test_approaching_object(tmp_path):
    objs = [toy.ToyObject("red", (0.0, 1.0, 0.35), velocity=(0, -0.3, 0)), toy.ToyObject("green", (1.5, 2.0, 0.35))]
    scene = build(tmp_path, "approach", objs)
    c, _ = candidates(scene, "camera_object_distance_change")
    labels = {x["objects"][0]: x["label"] for x in c}
    assert labels[1] == "decreasing" and labels.get(2, "constant") == "constant"
    c, _ = candidates(scene, "object_direction")
    labels = {x["objects"][0]: x["label"] for x in c}
    assert labels[1] == ["towards"] and labels.get(2, ["static"]) == ["static"]
    c, _ = candidates(scene, "object_object_distance_change")
    assert {x["label"] for x in c} == {"increasing"}  # red leaves green behind


@pytest.mark.parametrize("rate,expect", [(8.0, "counterclockwise"), (-8.0, "clockwise"), (0.0, "none")])
def test_object_turning(tmp_path, rate, expect):
    scene = build(tmp_path, "turn", [toy.ToyObject("red", (0.0, 0.0, 0.35), yaw_rate=rate)])
    c, _ = candidates(scene, "object_rotation")
    assert {x["label"] for x in c} == {expect}


def test_agent_driving_forward_and_turning(tmp_path):
    # forward axis is +x; the car drives along +x while turning left (CCW)
    car = toy.ToyObject("yellow", (-1.5, 0.5, 0.35), velocity=(0.3, 0, 0), yaw_rate=4.0, category="car", is_agent=True)
    scene = build(tmp_path, "agent", [car, toy.ToyObject("red", (1.5, 1.5, 0.35))])
    c, _ = candidates(scene, "agent_motion")
    assert {str(x["label"]) for x in c} == {str({"move": "forward", "turn": "left"})}


def test_depth_winner_is_nearest(tmp_path):
    objs = [toy.ToyObject("red", (0.0, -2.0, 0.35)), toy.ToyObject("green", (1.0, 2.0, 0.35)),
            toy.ToyObject("blue", (-1.2, 1.0, 0.35))]
    scene = build(tmp_path, "depth", objs)
    c, _ = candidates(scene, "depth")
    assert c
    for x in c:
        assert x["polarity"] == "min"
        assert x["items"][x["winner"]]["object"] == 1 if any(i["object"] == 1 for i in x["items"]) else True
        assert x["values"][x["winner"]] == min(x["values"])


def test_moved_distance_winner_moves_most(tmp_path):
    objs = [toy.ToyObject("red", (0.0, 0.0, 0.35), velocity=(0.25, 0, 0)), toy.ToyObject("green", (1.0, 2.0, 0.35)),
            toy.ToyObject("blue", (-1.5, 1.0, 0.35), velocity=(0.05, 0, 0))]
    scene = build(tmp_path, "moved", objs)
    c, _ = candidates(scene, "moved_distance")
    assert c and all(x["items"][x["winner"]]["object"] == 1 for x in c)


def test_true_motion_track_of_static_point_stays_put(tmp_path):
    scene = build(tmp_path, "tm", STILL, eye_velocity=(0.15, 0, 0), background_points=40)
    c, _ = candidates(scene, "true_motion_point_tracking")
    bg = [x for x in c if x["object_id"] == 0]
    assert bg
    for x in bg:
        for e in x["track"]:
            assert abs(e["x"] - x["query"]["x"]) <= 2e-3 and abs(e["y"] - x["query"]["y"]) <= 2e-3
    v, _ = candidates(scene, "visual_point_tracking")
    moved = [abs(e["x"] - x["query"]["x"]) for x in v if x["object_id"] == 0 for e in x["track"]]
    assert moved and max(moved) > 0.02  # the moving camera moves the visual track


def test_target_frames_are_shuffled_and_named(tmp_path):
    scene = build(tmp_path, "trk", STILL, eye_velocity=(0.1, 0, 0))
    c, _ = candidates(scene, "visual_point_tracking", track_targets=(4, 5), samples_per_segment=6)
    orders = [[e["media"] for e in x["track"]] for x in c]
    assert any(o != sorted(o) for o in orders)
    for x in c:
        assert x["query"]["media"] not in [e["media"] for e in x["track"]]


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    root = tmp_path_factory.mktemp("varied")
    return [load_scene(toy.build(s, root)) for s in toy.varied_scenes(3, seed=5, frames=10)]


@pytest.mark.parametrize("task_name", family_tasks("4dpqa"))
def test_every_format_renders_valid_records_that_check(varied, task_name):
    task = get_task("4dpqa", task_name)
    made = Counter()
    for scene in varied:
        c, ctx = candidates(scene, task_name, ref_modes={"caption": 0.4, "coord": 0.3, "prompt": 0.3})
        pool = Counter(x["key"] for x in c)
        for n, cand in enumerate(c):
            for fmt in cand["formats"]:
                choices = [None] if fmt in ("free", "track") else ([True, False] if fmt == "yesno" else [n % 3])
                for choice in choices:
                    env = RenderEnv(scene_meta=scene.meta, config=ctx.config, pool=dict(pool))
                    out = task.render(cand, fmt, choice, rng_for(0, cand["uid"], fmt), env)
                    rec = {"id": cand["uid"], "family": "4dpqa", "task": task_name, "category": task.category,
                           "scene_id": scene.scene_id, "media": [f"m/{t}.jpg" for t in cand["frame_indices"]],
                           "frame_indices": cand["frame_indices"], "timestamps": cand["timestamps"],
                           "answer_format": fmt, **out}
                    validate_record(rec)
                    assert task.check(rec, scene, ctx.thresholds) == [], rec
                    if fmt == "mc":
                        assert rec["answer"] == LETTERS[choice]
                        assert len(set(rec["options"].values())) == len(rec["options"]) >= 3
                    if fmt == "yesno":
                        assert rec["answer"] == ("yes" if choice else "no")
                    made[fmt] += 1
    assert made, f"{task_name}: no candidate in the toy scenes"


def test_check_catches_a_wrong_label(varied):
    task = get_task("4dpqa", "object_direction")
    for scene in varied:
        c, ctx = candidates(scene, "object_direction")
        if c:
            break
    cand = c[0]
    env = RenderEnv(scene_meta=scene.meta, config=ctx.config, pool={})
    out = task.render(cand, "free", None, rng_for(0, "x"), env)
    rec = {"answer_format": "free", "frame_indices": cand["frame_indices"], **out}
    assert task.check(rec, scene, ctx.thresholds) == []
    rec["meta"] = {**rec["meta"], "label": ["up"] if cand["label"] != ["up"] else ["down"]}
    assert any("meta.label" in p for p in task.check(rec, scene, ctx.thresholds))
