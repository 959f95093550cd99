"""End to end on hand-made scenes that together give all 22 MultiSPA tasks: generate -> audit ->
eval (oracle and the prompt-obedient model score 1.0, random and prior stay low) -> InternVL
export with `Image-k: <image>` lines. The scenes are those of the other tests of this folder
(camera paths, walls, boxes, moving balls) plus a camera that rises while looking at a fixed
target (pitch) and a box seen from its side (width)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from qa4d.geometry import intrinsics_from_fov
from qa4d.scene.format import SceneMeta, SceneObject, write_scene
from tests.engine import toy
from tests.engine.families.multispa import test_depth, test_size

TASKS = {
    "depth_estimation_dot", "depth_estimation_coord", "depth_comparison_dot", "depth_comparison_coord",
    "correspondence_coord", "correspondence_mcq", "camera_x_movement", "camera_y_movement", "camera_z_movement",
    "camera_yaw_movement", "camera_pitch_movement", "camera_yaw_angle", "camera_pitch_angle", "camera_total_distance",
    "camera_displacement_vector", "object_distance_coord", "object_distance_dot", "object_vector_coord",
    "object_vector_dot", "object_height", "object_width", "object_length",
}
S = 64


def side_box(root):
    """Box x in [-2, 2], y in [0, 3], z in [0, 1] (width 3 m along y); two cameras 2 m before its
    x = -2 face, looking along +x, at y = 0.6 and 2.4: only together do they cover y in [0, 3]."""
    K = intrinsics_from_fov(S, S, 60.0)
    cams = [(-4.0, 0.6, 0.5), (-4.0, 2.4, 0.5)]
    T = len(cams)
    c2w = np.tile(np.eye(4), (T, 1, 1))
    c2w[:, :3, :3] = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)   # columns X=-y, Y=-z, Z=+x
    v, u = np.mgrid[0:S, 0:S] + 0.5
    depth, mask = np.zeros((T, S, S), np.float32), np.zeros((T, S, S), np.int32)
    for t, cam in enumerate(cams):
        c2w[t, :3, 3] = cam
        z = -2.0 - cam[0]
        wy = cam[1] - z * (u - K[0, 2]) / K[0, 0]
        wz = cam[2] - z * (v - K[1, 2]) / K[1, 1]
        hit = (wy >= 0) & (wy <= 3) & (wz >= 0) & (wz <= 1)
        depth[t], mask[t] = np.where(hit, z, 0.0), hit
    o2w = np.tile(np.eye(4), (1, T, 1, 1))
    o2w[0, :, :3, 3] = (0.0, 1.5, 0.5)
    img = np.where(mask[..., None] > 0, np.uint8(210), np.uint8(80)).repeat(3, -1)
    meta = SceneMeta(scene_id="side", source="sim", fps=5.0, width=S, height=S, frames=[],
                     objects=[SceneObject(id=1, category="box", caption="the wide box")])
    write_scene(root / "side", meta, {"intrinsics": np.tile(K, (T, 1, 1)), "cam_to_world": c2w, "depth": depth,
                                      "instance_mask": mask, "object_to_world": o2w,
                                      "object_extent": np.array([[4.0, 3.0, 1.0]])}, frames=list(img))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_e2e")
    sc = root / "scenes"
    balls = [toy.ToyObject("red", (-1.0, 0.0, 0.5), velocity=(0.08, 0.0, 0.0)), toy.ToyObject("blue", (1.0, 1.0, 0.5)),
             toy.ToyObject("green", (0.0, 2.0, 0.5), radius=0.8)]
    for i, (ev, tv) in enumerate([((0.15, 0.0, 0.0), (0, 0, 0)), ((0.0, 0.2, 0.05), None),
                                  ((0.1, 0.0, 0.25), (0, 0, 0)), ((-0.1, 0.1, -0.2), (0, 0, 0))]):
        toy.build(toy.ToyScene(f"cam{i}", balls, frames=10, size=S, eye_velocity=ev, target_velocity=tv), sc)
    for i in range(2):
        test_depth.build(sc, f"walls{i}")
    test_size.build(sc, "long")
    test_size.build(sc, "tall")
    side_box(sc)
    ds = root / "ds"
    r = cli("generate", "--scenes", str(sc), "--out", str(ds), "--families", "multispa", "--bench-fraction", "0.5",
            "--seed", "0")
    assert r.returncode == 0, r.stderr
    return root, ds


def records(ds, split=None):
    return [r for s in (("train", "bench") if split is None else (split,)) if (ds / s / "samples.jsonl").exists()
            for r in read_samples(ds / s / "samples.jsonl")]


def test_all_22_tasks_and_the_audit(dataset):
    _, ds = dataset
    recs = records(ds)
    assert {r["task"] for r in recs} == TASKS
    r = cli("audit", str(ds))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((ds / "audit.json").read_text())["disagreements"] == []


def test_eval_oracle_and_obedient_score_one_random_and_prior_low(dataset):
    root, ds = dataset
    acc = {}
    for m in ("oracle", "obedient", "random", "prior"):
        r = cli("eval", "--benchmark", str(ds / "bench"), "--model", m, "--out", str(root / f"run_{m}"))
        assert r.returncode == 0, r.stderr
        metrics = json.loads((root / f"run_{m}" / "metrics.json").read_text())
        acc[m] = metrics
    for m in ("oracle", "obedient"):
        assert acc[m]["overall"]["accuracy"] == 1.0
    for m in ("random", "prior"):
        assert acc[m]["overall"]["accuracy"] < 0.5
    # direction questions name their two answers ("Answer 'left' or 'right'"): chance is 1/2 there
    moves = {t: v for t, v in acc["random"]["by_task"].items() if t.endswith("_movement")}
    assert moves and all(v["chance"] == 0.5 for v in moves.values())
    # reported per task and per Table 2 row (the family's categories)
    assert set(acc["oracle"]["by_category"]) <= {
        "depth_comparison", "depth_value", "vc_coordinate", "vc_mcq", "camera_orientation_direction",
        "camera_orientation_degree", "camera_translation_direction", "camera_translation_distance",
        "camera_translation_vector", "object_movement_distance", "object_movement_vector", "object_size"}
    assert {r["task"] for r in records(ds, "bench")} == set(acc["oracle"]["by_task"])


def test_internvl_rows_name_images_like_the_questions(dataset):
    root, ds = dataset
    out = root / "internvl"
    r = cli("export", str(ds), "--format", "internvl", "--out", str(out), "--split", "bench")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for p in out.glob("*_bench.jsonl") for ln in p.read_text().splitlines()]
    assert rows
    for row in rows:
        human = row["conversations"][0]["value"]
        n = len(row["image"]) if isinstance(row["image"], list) else 1
        assert human.startswith("".join(f"Image-{k + 1}: <image>\n" for k in range(n)))
        assert "Frame 1:" not in human


def test_image_set_prompts_state_no_frame_times(dataset):
    from qa4d.bench.registry import get_benchmark

    _, ds = dataset
    bench = get_benchmark("qa4d")()
    items = bench.load(ds / "bench")
    assert items
    for it in items:
        prompt = bench.build_prompt(it)
        assert "seconds." not in prompt and prompt.startswith(it.question.strip())


def test_a_model_answering_as_trained_scores_one_under_the_prompt_it_is_evaluated_with(dataset):
    """The trainer exports ask with the instruction `qa4d eval` shows (one source: the answer-format
    registry), direction answers state their word in backticks as that instruction asks, and
    replying to every bench item exactly as the exported answer reads scores 1.0 through `qa4d score`."""
    from qa4d.bench.registry import get_benchmark
    from qa4d.export.records import render_answer, render_prompt

    root, ds = dataset
    bench = get_benchmark("qa4d")()
    items = {it.id: it for it in bench.load(ds / "bench")}
    recs = records(ds, "bench")
    assert set(items) == {r["id"] for r in recs}
    preds = []
    for r in recs:
        it = items[r["id"]]
        shown = bench.build_prompt(it, "do").split("\n")[-1]
        assert render_prompt(r).split("\n")[-1] == shown
        if r["task"].endswith("_movement"):
            assert "inside backticks" in shown
            assert r["answer"] == f"`{r['meta']['value']}`" and r["meta"]["value"] in r["meta"]["choices"]
        preds.append(json.dumps({"id": r["id"], "response": render_answer(r)}))
    assert any(r["task"].endswith("_movement") for r in recs)
    (root / "as_trained.jsonl").write_text("\n".join(preds) + "\n")
    r = cli("score", "--benchmark", "qa4d", "--annotations", str(ds / "bench"), "--predictions",
            str(root / "as_trained.jsonl"), "--out", str(root / "as_trained"))
    assert r.returncode == 0, r.stderr
    metrics = json.loads((root / "as_trained" / "metrics.json").read_text())
    assert metrics["overall"]["accuracy"] == 1.0 and metrics["overall"]["n"] == len(recs)
