"""`qa4d audit`: passes on a generated dataset, fails (exit 1, naming the record or task) on a
tampered label or answer and on a deliberately biased task."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa4d.engine.audit import audit, blind_baseline


def run_audit(ds: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa4d.cli", "audit", str(ds), *extra], capture_output=True, text=True)


def copy(ds: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "ds"
    shutil.copytree(ds, dst)
    return dst


def edit(ds: Path, split: str, fn) -> None:
    p = ds / split / "samples.jsonl"
    recs = [json.loads(line) for line in p.read_text().splitlines()]
    recs = fn(recs)
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_audit_passes_on_generated_dataset(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    r = run_audit(ds)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["ok"] and rep["checked"] == sum(rep["records"].values()) > 0
    assert rep["disagreements"] == [] and rep["bias_failures"] == []
    for task, d in rep["tasks"].items():
        assert "train" in d and "blind_baseline" in d


def test_tampered_label_is_caught(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    victim = {}

    def tamper(recs):
        for r in recs:
            if r["task"] == "object_rotation":
                r["meta"]["label"] = "clockwise" if r["meta"]["label"] != "clockwise" else "none"
                victim["id"] = r["id"]
                break
        return recs

    edit(ds, "train", tamper)
    r = run_audit(ds)
    assert r.returncode == 1
    assert victim["id"] in r.stdout and "DISAGREE" in r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert [d["id"] for d in rep["disagreements"]] == [victim["id"]]


def test_tampered_answer_letter_is_caught(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    victim = {}

    def tamper(recs):
        for r in recs:
            if r["answer_format"] == "mc" and r["category"] == "spatial":
                r["answer"] = "B" if r["answer"] != "B" else "A"
                victim["id"] = r["id"]
                break
        return recs

    edit(ds, "bench", tamper)
    rep = audit(ds)
    assert not rep["ok"] and [d["id"] for d in rep["disagreements"]] == [victim["id"]]


def test_tampered_track_is_caught(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)

    def tamper(recs):
        for r in recs:
            if r["answer_format"] == "track":
                r["meta"]["track"][0]["x"] = round(1 - r["meta"]["track"][0]["x"], 3)
                break
        return recs

    edit(ds, "train", tamper)
    assert len(audit(ds)["disagreements"]) == 1


def test_biased_task_fails(toy_scenes, tmp_path):
    # yes/no questions only, then keep only the "yes" ones of one task: every record is still
    # correct, but a blind majority guess now scores 100% on bench
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    ds = tmp_path / "biased"
    generate(GenerateConfig(scenes=str(toy_scenes), out=str(ds), seed=0, bench_fraction=0.5, media_frames=6,
                            samples_per_segment=6, tasks=["object_object_distance", "depth"],
                            train_formats={"yesno": 1.0}, bench_formats={"yesno": 1.0}), log=lambda m: None)
    assert run_audit(ds).returncode == 0
    task = "object_object_distance"
    for split in ("train", "bench"):
        edit(ds, split, lambda recs: [r for r in recs if not (r["task"] == task and r["answer"] == "no")])
    r = run_audit(ds)
    assert r.returncode == 1
    assert f"BIAS {task} (yesno)" in r.stdout and "BIAS depth" not in r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["disagreements"] == []


def _mc(answer_text, others, letter="A"):
    opts = {"A": None, "B": None, "C": None, "D": None}
    rest = iter(others)
    for k in opts:
        opts[k] = answer_text if k == letter else next(rest)
    return {"answer_format": "mc", "options": opts, "answer": letter}


def test_blind_baseline_detects_a_text_prior():
    # train answers are always "left"; bench offers "left" among others and it is always right
    train = [_mc("left", ["right", "up", "down"], letter="ABCD"[i % 4]) for i in range(40)]
    bench = [_mc("left", ["right", "up", "down"], letter="ABCD"[i % 4]) for i in range(200)]
    b = blind_baseline(train, bench, 5.0)["mc"]
    assert b["accuracy"] == 1.0 and not b["ok"]
    fair = [_mc(t, [x for x in ["left", "right", "up", "down"] if x != t], letter="ABCD"[i % 4])
            for i, t in enumerate(["left", "right", "up", "down"] * 50)]
    b = blind_baseline(fair, fair, 5.0)["mc"]
    assert abs(b["accuracy"] - 0.25) < 0.05 and b["ok"]


def test_scene_leak_is_caught(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    bench = [json.loads(x) for x in (ds / "bench" / "samples.jsonl").read_text().splitlines()]
    edit(ds, "train", lambda recs: recs + bench[:1])
    rep = audit(ds)
    assert not rep["ok"] and rep["scene_leaks"] == [bench[0]["scene_id"]]
