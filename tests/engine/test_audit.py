"""`qa4d audit`: passes on a generated dataset, fails (exit 1, naming the record or task) on a
tampered label or answer, on a deliberately biased task and on answers leaking through wording."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa4d.engine.audit import NaiveBayes, audit, blind_baseline, text_baseline, text_features


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


@pytest.fixture(scope="module")
def yesno_dataset(toy_scenes, tmp_path_factory) -> Path:
    """Two tasks, yes/no questions only, generated from the toy scenes. Read-only: copy to edit."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    ds = tmp_path_factory.mktemp("yesno") / "ds"
    generate(GenerateConfig(scenes=str(toy_scenes), out=str(ds), seed=0, bench_fraction=0.5, media_frames=6,
                            samples_per_segment=16, tasks=["object_object_distance", "depth"],
                            train_formats={"yesno": 1.0}, bench_formats={"yesno": 1.0}), log=lambda m: None)
    return ds


def test_biased_task_fails(yesno_dataset, tmp_path):
    # yes/no questions only, then keep only the "yes" ones of one task: every record is still
    # correct, but a blind majority guess now scores 100% on bench
    ds = copy(yesno_dataset, tmp_path)
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


def test_naive_bayes_matches_hand_computed_posterior():
    # counts  yes: a=3 b=1 c=0 (4 tokens), no: a=0 b=1 c=1 (2 tokens); V=3, alpha=1
    # P(.|yes) = 4/7 2/7 1/7, P(.|no) = 1/5 2/5 2/5, priors 2/3 and 1/3; "z" is unseen and ignored
    nb = NaiveBayes(alpha=1.0).fit([["a", "b"], ["a", "a"], ["b", "c"]], ["yes", "yes", "no"])
    assert nb.classes == ["no", "yes"]
    post = nb.log_posterior([["a", "c", "z"], []])
    p_yes = (2 / 3 * 4 / 7 * 1 / 7) / (2 / 3 * 4 / 7 * 1 / 7 + 1 / 3 * 1 / 5 * 2 / 5)  # = 100/149
    assert math.isclose(math.exp(post[0, 1]), p_yes, rel_tol=1e-12) and math.isclose(p_yes, 100 / 149)
    assert math.isclose(math.exp(post[1, 1]), 2 / 3, rel_tol=1e-12)  # no features: the prior
    assert nb.predict([["a", "c"], ["c"], ["b"]]) == ["yes", "no", "yes"]
    # "b" is as likely under both classes: only the prior decides; equal priors tie to "no"
    assert NaiveBayes().fit([["b"], ["b"]], ["yes", "no"]).predict([["b"]]) == ["no"]


def test_text_features_are_lowercased_unigrams_and_bigrams():
    assert text_features("Is the RED cube left?") == ["is", "the", "red", "cube", "left", "is the", "the red",
                                                      "red cube", "cube left"]
    assert text_features("In frame 3, (0.5, 0.25) 3D") == ["in", "frame", "3d", "in frame", "frame 3d"]
    assert text_features("to the left", "opt:") == ["opt:to", "opt:the", "opt:left", "opt:to the", "opt:the left"]


def test_text_baseline_catches_a_leaking_option_word():
    # bench option texts never occur in train, so the answer-text prior can only guess (25%), but
    # the correct option always carries the word "clearly": the text baseline finds it
    def recs(labels, n):
        out = []
        for i in range(n):
            ans = labels[i % len(labels)]
            others = [x for x in labels if x != ans][:3]
            r = _mc(f"clearly {ans}", others, letter="ABCD"[(i * 7) % 4])
            r["question"] = f"Which way does object {i % 5} move?"
            out.append(r)
        return out

    train, bench = recs(["left", "right", "up", "down"], 80), recs(["north", "south", "east", "west"], 120)
    assert blind_baseline(train, bench, 5.0)["mc"]["ok"]
    t = text_baseline(train, bench, 5.0)["mc"]
    assert t["accuracy"] == 1.0 and not t["ok"]
    assert t["leading_features"]["correct"][0][0] in ("opt:clearly", "len:2")
    fair = recs(["left", "right", "up", "down"], 200)
    for r in fair:
        r["options"] = {k: v.replace("clearly ", "") for k, v in r["options"].items()}
    t = text_baseline(fair[:100], fair[100:], 5.0)["mc"]
    assert t["ok"] and t["accuracy"] <= 0.3


def test_wording_leak_fails_text_baseline_but_not_answer_prior(yesno_dataset, tmp_path):
    # every true statement of one task is worded "Is it true that ...": labels, answers and their
    # frequencies are untouched (the answer prior stays at chance), only the wording leaks. (A
    # single leaked word among ~30-word questions needs more than these ~40 train items per task:
    # the chance template/label imbalance of a small train split outweighs it, see docs/engine.md.)
    ds = copy(yesno_dataset, tmp_path)
    task = "object_object_distance"
    phrase = {"is it", "it true", "true that", "it", "true"}

    def leak(recs):
        for r in recs:
            if r["task"] == task and r["answer"] == "yes":
                r["question"] = "Is it true that " + r["question"][0].lower() + r["question"][1:]
        return recs

    for split in ("train", "bench"):
        edit(ds, split, leak)
    r = run_audit(ds)
    assert r.returncode == 1, r.stdout
    line = next(x for x in r.stdout.splitlines() if x.startswith(f"BIAS {task} (yesno): text baseline"))
    assert "most telling words for no: " in line and any(f"'{w}'" in line.split("; yes: ")[1] for w in phrase)
    assert "blind baseline" not in r.stdout and "BIAS depth" not in r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["disagreements"] == []
    d = rep["tasks"][task]
    assert d["blind_baseline"]["yesno"]["ok"] and not d["text_baseline"]["yesno"]["ok"]
    assert d["text_baseline"]["yesno"]["accuracy"] > 0.5 + d["text_baseline"]["yesno"]["limit"]
    assert d["text_baseline"]["yesno"]["leading_features"]["yes"][0][0] in phrase
    assert rep["tasks"]["depth"]["text_baseline"]["yesno"]["ok"]


def test_unbiased_simulated_dataset_passes_text_baseline(sim_scenes, tmp_path):
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    out = tmp_path / "sim"
    generate(GenerateConfig(scenes=str(sim_scenes), out=str(out), seed=0, bench_fraction=0.5, media_frames=6),
             log=lambda m: None)
    rep = audit(out)
    assert rep["disagreements"] == [] and rep["bias_failures"] == [], rep["bias_failures"]
    scored = [(t, f, b) for t, d in rep["tasks"].items() for f, b in d["text_baseline"].items()]
    assert {f for _, f, _ in scored} == {"mc", "yesno"}
    for t, f, b in scored:
        assert b["ok"] and abs(b["accuracy"] - b["chance"]) <= b["limit"], (t, f, b)
