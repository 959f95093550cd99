"""End-to-end generation: schema, split, determinism, resume after a crash or a kill, broken scenes."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from qa4d.engine import generate as gen
from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.tracking import target_frames_text
from qa4d.engine.generate import GenerateError, generate
from qa4d.engine.registry import family_tasks
from qa4d.engine.writer import MediaWriter
from qa4d.dataset import validate_record

ROOT = Path(__file__).resolve().parents[2]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def records(ds: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (ds / split / "samples.jsonl").read_text().splitlines()]


def cfg(scenes, out, **kw) -> GenerateConfig:
    return GenerateConfig(scenes=str(scenes), out=str(out), **{"seed": 0, "bench_fraction": 0.5, "media_frames": 6, **kw})


def test_dataset_is_valid_and_split_by_scene(toy_dataset):
    info = json.loads((toy_dataset / "dataset.json").read_text())
    train, bench = records(toy_dataset, "train"), records(toy_dataset, "bench")
    assert train and bench
    for i, r in enumerate(train + bench):
        validate_record(r, "samples.jsonl", i)
        for m in r["media"]:
            assert (toy_dataset / m).is_file()
        assert r["meta"]["objects"] is not None and "measurement" in r["meta"]
    assert not {r["scene_id"] for r in train} & {r["scene_id"] for r in bench}
    assert set(info["splits"]["bench"]["scenes"]).isdisjoint(info["splits"]["train"]["scenes"])
    assert {r["scene_id"] for r in bench} <= set(info["splits"]["bench"]["scenes"])
    for s, recs in (("train", train), ("bench", bench)):
        assert info["counts"][s] == dict(Counter(f"{r['family']}/{r['task']}" for r in recs))
        assert info["splits"][s]["samples"] == len(recs)
        for t, by_format in info["formats"][s].items():  # per task: answer formats of its records
            assert by_format == dict(Counter(r["answer_format"] for r in recs if f"{r['family']}/{r['task']}" == t))
        assert sum(sum(f.values()) for f in info["formats"][s].values()) == len(recs)
    assert len({r["id"] for r in train + bench}) == len(train) + len(bench)
    assert set(info["skips"]) == {f"4dpqa/{t}" for t in family_tasks("4dpqa")}
    # bench uses only mc / yes-no for the question tasks; tracking answers are tracks
    assert {r["answer_format"] for r in bench if r["category"] != "point_tracking"} <= {"mc", "yesno"}
    assert {r["answer_format"] for r in bench if r["category"] == "point_tracking"} == {"track"}


def test_visual_prompt_images_are_per_sample(toy_dataset):
    train = records(toy_dataset, "train") + records(toy_dataset, "bench")
    prompted = [r for r in train if any(x.get("mode") == "prompt" for x in r["meta"].get("refs", []))]
    assert prompted
    for r in prompted:
        for ref in r["meta"]["refs"]:
            if ref.get("mode") == "prompt":
                path = r["media"][ref["media"]]
                assert "/p/" in path and ref["colour"] in r["question"] + json.dumps(r["options"])
    shared = [m for r in train for m in r["media"] if "/p/" not in m]
    assert len(set(shared)) < len(shared)  # frames are written once per scene and shared


def test_tracks_format(toy_dataset):
    recs = [r for r in records(toy_dataset, "train") if r["answer_format"] == "track"]
    assert recs
    for r in recs:
        m = r["meta"]
        assert 0 <= m["query"]["x"] <= 1 and m["query"]["frame"] in r["frame_indices"]
        for e in m["track"]:
            assert 0 <= e["x"] <= 1 and 0 <= e["y"] <= 1 and round(e["x"], 3) == e["x"]
            assert f"frame {r['frame_indices'].index(e['frame']) + 1}:" in r["answer"]
        named = target_frames_text([r["frame_indices"].index(e["frame"]) for e in m["track"]])
        assert named in r["question"]  # the question names the target frames in the answer's order


def test_same_seed_same_bytes_any_worker_count(toy_scenes, toy_dataset, tmp_path):
    generate(cfg(toy_scenes, tmp_path / "b", workers=2), log=lambda m: None)
    a, b = tree(toy_dataset), tree(tmp_path / "b")
    assert a.keys() == b.keys() and a == b
    generate(cfg(toy_scenes, tmp_path / "c", seed=1), log=lambda m: None)
    assert (tmp_path / "c" / "train" / "samples.jsonl").read_bytes() != a["train/samples.jsonl"]


def test_resume_after_crash_in_either_phase(toy_scenes, toy_dataset, tmp_path, monkeypatch):
    out = tmp_path / "r"
    real_phase1, calls = gen._phase1, []

    def crashing_phase1(job):
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if killed after three scenes
        calls.append(job)
        return real_phase1(job)

    monkeypatch.setattr(gen, "_phase1", crashing_phase1)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg(toy_scenes, out), log=lambda m: None)
    assert len(list((out / ".work" / "candidates").glob("*.json"))) == 3
    assert not (out / "train" / "samples.jsonl").exists()
    monkeypatch.setattr(gen, "_phase1", real_phase1)

    real_shared, n = MediaWriter.shared_frame, []

    def crashing_shared(self, t):
        if len(n) == 10:
            raise KeyboardInterrupt  # killed while writing media
        n.append(t)
        return real_shared(self, t)

    monkeypatch.setattr(MediaWriter, "shared_frame", crashing_shared)
    with pytest.raises(KeyboardInterrupt):
        generate(cfg(toy_scenes, out), log=lambda m: None)
    monkeypatch.setattr(MediaWriter, "shared_frame", real_shared)
    generate(cfg(toy_scenes, out), log=lambda m: None)
    assert tree(out) == tree(toy_dataset)


def test_resume_after_sigkill(toy_scenes, toy_dataset, tmp_path):
    out = tmp_path / "k"
    cmd = [sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(toy_scenes), "--out", str(out),
           "--seed", "0", "--bench-fraction", "0.5", "--media-frames", "6"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    cand_dir = out / ".work" / "candidates"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not (cand_dir.exists() and any(cand_dir.glob("*.json"))):
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if (out / "dataset.json").exists():
        pytest.skip("the run finished before it could be killed")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert tree(out) == tree(toy_dataset)


def test_other_settings_refuse_to_resume(toy_scenes, tmp_path):
    out = tmp_path / "x"
    generate(cfg(toy_scenes, out, tasks=["depth"]), log=lambda m: None)
    with pytest.raises(GenerateError, match="other settings"):
        generate(cfg(toy_scenes, out, tasks=["depth"], media_frames=5), log=lambda m: None)


def test_broken_scene_is_reported_and_skipped(toy_scenes, tmp_path):
    scenes = tmp_path / "scenes"
    shutil.copytree(toy_scenes, scenes)
    victim = sorted(p for p in scenes.iterdir() if p.is_dir())[0]
    (victim / "arrays.npz").write_bytes(b"not a zip file")
    (scenes / "garbage").mkdir()
    (scenes / "garbage" / "scene.json").write_text("{")
    messages = []
    summary = generate(cfg(scenes, tmp_path / "d", tasks=["camera_movement", "depth"]), log=messages.append)
    broken = {Path(b["scene"]).name for b in summary.broken}
    assert broken == {victim.name, "garbage"}
    info = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert len(info["broken_scenes"]) == 2
    assert victim.name not in json.dumps(records(tmp_path / "d", "train") + records(tmp_path / "d", "bench"))
    assert any(victim.name in m for m in messages) and any("garbage" in m for m in messages)


def test_unusable_scene_is_a_counted_skip(tmp_path):
    from tests.engine import toy

    scenes = tmp_path / "s"
    toy.build(toy.ToyScene("noagent", [toy.ToyObject("red", (0, 0, 0.35))], frames=8), scenes)
    summary = generate(cfg(scenes, tmp_path / "d", tasks=["agent_motion", "moved_distance"]), log=lambda m: None)
    assert summary.skips["4dpqa/agent_motion"] == {"scene has no agents": 1}
    assert sum(summary.skips["4dpqa/moved_distance"].values()) >= 1


def test_cli_generate(toy_scenes, tmp_path):
    out = tmp_path / "cli"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(toy_scenes), "--out", str(out),
                        "--tasks", "depth", "object_rotation", "--seed", "3"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "depth" in r.stderr and "wrote" in r.stderr
    assert {x["task"] for x in records(out, "train")} <= {"depth", "object_rotation"}
    bad = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(toy_scenes), "--out",
                          str(tmp_path / "bad"), "--tasks", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown task" in bad.stderr


def test_simulated_scenes_end_to_end(sim_scenes, tmp_path):
    out = tmp_path / "sim"
    generate(cfg(sim_scenes, out, media_frames=6), log=lambda m: None)
    recs = records(out, "train") + records(out, "bench")
    assert recs
    for i, r in enumerate(recs):
        validate_record(r, "samples.jsonl", i)
    from qa4d.engine.audit import audit

    rep = audit(out)
    assert rep["disagreements"] == [] and rep["schema_errors"] == []
    assert len({r["task"] for r in recs}) >= 8
