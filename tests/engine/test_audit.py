"""`qa4d audit`: passes on generated datasets (toy scenes, and three seeds of 8 simulated scenes),
fails (exit 1, naming the record or task) on a tampered label or answer, on a deliberately biased
task, on answers leaking through wording and on a telltale word planted on the correct options."""

import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa4d.engine.audit import audit
from qa4d.engine.audit_baselines import (NaiveBayes, OptionNaiveBayes, mc_text_baseline, option_features,
                                         position_baseline, prior_baseline, question_word_tests, text_features,
                                         word_tests)
from qa4d.engine.audit_stats import decide


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
        assert "train" in d and "bench" in d


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
    line = next(x for x in r.stdout.splitlines() if x.startswith(f"BIAS 4dpqa/{task} (yesno): answer-prior baseline"))
    n_bench = sum(1 for x in (ds / "bench" / "samples.jsonl").read_text().splitlines() if f'"task": "{task}"' in x)
    assert f"100.0% vs chance 50.0% on {n_bench} bench items, p = " in line
    assert "BIAS 4dpqa/depth" not in r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["disagreements"] == []
    (t,) = [t for t in rep["bias_tests"] if t["task"] == task and t["baseline"] == "prior"]
    assert t["failed"] and math.isclose(t["p_value"], 0.5 ** n_bench, rel_tol=1e-3)


def _mc(answer_text, others, letter="A", rid="x"):
    opts = {"A": None, "B": None, "C": None, "D": None}
    rest = iter(others)
    for k in opts:
        opts[k] = answer_text if k == letter else next(rest)
    return {"id": rid, "answer_format": "mc", "options": opts, "answer": letter, "question": "Which way?"}


def test_prior_baseline_detects_a_text_prior():
    # train answers are always "left"; bench offers "left" among others and it is always right
    train = [_mc("left", ["right", "up", "down"], letter="ABCD"[i % 4], rid=f"t{i}") for i in range(40)]
    bench = [_mc("left", ["right", "up", "down"], letter="ABCD"[i % 4], rid=f"b{i}") for i in range(200)]
    (b,) = decide([prior_baseline("t", train, bench)])
    assert b.accuracy == 1.0 and b.failed and b.details["top_texts"][0] == ["left", 40, 40]
    fair = [_mc(t, [x for x in ["left", "right", "up", "down"] if x != t], letter="ABCD"[(i * 7) % 4], rid=f"f{i}")
            for i, t in enumerate(["left", "right", "up", "down"] * 50)]
    (b,) = decide([prior_baseline("t", fair[:100], fair[100:])])
    assert abs(b.accuracy - 0.25) < 0.1 and not b.failed


def test_prior_and_position_tie_breaks_carry_no_information():
    # no bench text was seen in train: the prior has nothing to go on and must not fall back on a
    # fixed letter; with every answer at "A", a fixed earliest-letter fallback would score 100%
    train = [_mc("left", ["right", "up", "down"], letter="ABCD"[i % 4], rid=f"t{i}") for i in range(40)]
    bench = [_mc(f"w{i}", [f"x{i}", f"y{i}", f"z{i}"], letter="A", rid=f"b{i}") for i in range(400)]
    assert 0.18 < prior_baseline("t", train, bench).accuracy < 0.32
    # position: train's most frequent letter is C, and bench's answers are all A: 0 hits; all C: 100%
    skewed = [_mc("left", ["right", "up", "down"], letter="C" if i % 3 else "B", rid=f"s{i}") for i in range(30)]
    assert position_baseline("t", skewed, bench).accuracy == 0.0
    all_c = [dict(r, answer="C") for r in bench]
    (p,) = decide([position_baseline("t", skewed, all_c)])
    assert p.accuracy == 1.0 and p.failed and p.details["letter"] == "C"


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


def test_option_features_cross_question_and_option_words():
    assert option_features("Which is NEAR?", "the red cube") == {
        "opt:the", "opt:red", "opt:cube", "len:3",
        *(f"q:{q} x opt:{o}" for q in ("which", "is", "near") for o in ("the", "red", "cube"))}


def test_option_naive_bayes_weights_by_hand():
    # rows: correct {a}, {a, b}; wrong {b}, {c}, {}, {}. A = 2, B = 4, alpha = 1.
    # w_a = logit(3/4) - logit(1/6) = ln 3 + ln 5; w_b = logit(2/4) - logit(2/6) = ln 2; w_c = logit(1/4) - logit(2/6) = ln(2/3)
    nb = OptionNaiveBayes().fit([({"a"}, True), ({"a", "b"}, True), ({"b"}, False), ({"c"}, False),
                                 (set(), False), (set(), False)])
    assert nb.weight["a"] == pytest.approx(math.log(15))
    assert nb.weight["b"] == pytest.approx(math.log(2)) and nb.weight["c"] == pytest.approx(math.log(2 / 3))
    assert nb.score({"a", "c", "unseen"}) == pytest.approx(math.log(10))
    assert [f["feature"] for f in nb.leading(k=5, min_count=2)] == ["a", "b"]


def _leak_records(labels, n, word, prefix):
    out = []
    for i in range(n):
        ans = labels[i % len(labels)]
        others = [x for x in labels if x != ans][:3]
        r = _mc(f"{word} {ans}".strip(), others, letter="ABCD"[(i * 7) % 4], rid=f"{prefix}{i}")
        r["question"] = f"Which way does object {i % 5} move?"
        out.append(r)
    return out


def test_text_baseline_catches_a_leaking_option_word():
    # bench option texts never occur in train, so the answer-text prior can only guess (25%), but
    # the correct option always carries the word "clearly": the text baseline finds it
    train = _leak_records(["left", "right", "up", "down"], 80, "clearly", "t")
    bench = _leak_records(["north", "south", "east", "west"], 120, "clearly", "b")
    prior, text = decide([prior_baseline("t", train, bench), mc_text_baseline("t", train, bench)])
    assert not prior.failed and prior.accuracy < 0.4
    assert text.accuracy == 1.0 and text.failed
    assert text.details["leading_features"][0]["feature"] == "clearly"
    assert text.details["leading_features"][0]["in_correct"] == 80 and text.details["leading_features"][0]["in_wrong"] == 0
    fair = _leak_records(["left", "right", "up", "down"], 200, "", "f")
    (text,) = decide([mc_text_baseline("t", fair[:100], fair[100:])])
    assert not text.failed and text.accuracy <= 0.35


def test_text_baseline_uses_question_x_option_words():
    # the correct option is "left" when the question says "west" and "right" when it says "east":
    # no option word alone is informative (each is right half the time), their crossing is
    def recs(n, prefix):
        out = []
        for i in range(n):
            side = ("west", "left") if i % 2 else ("east", "right")
            r = _mc(side[1], [x for x in ("left", "right", "up", "down") if x != side[1]], letter="ABCD"[(i * 3) % 4],
                    rid=f"{prefix}{i}")
            r["question"] = f"The wind blows {side[0]}; which way does the flag point?"
            out.append(r)
        return out

    train, bench = recs(60, "t"), recs(60, "b")
    (text,) = decide([mc_text_baseline("t", train, bench)])
    assert text.accuracy == 1.0 and text.failed
    top = {f["feature"] for f in text.details["leading_features"]}
    assert top & {"west x left", "east x right"}


def test_question_word_tests_count_yes_answers_per_word():
    recs = [{"answer_format": "yesno", "question": q, "answer": a} for q, a in
            [("Is the cube left?", "yes"), ("Is the cube right?", "no"), ("Is the ball left?", "yes"),
             ("Is the ball up?", "no")]]
    recs.append({"answer_format": "mc", "question": "Is it left?", "options": {"A": "x", "B": "y"}, "answer": "A"})
    tests = {t.details["word"]: t for t in question_word_tests("t", recs)}
    assert set(tests) == {"cube", "ball", "left", "right", "up"}  # "is", "the" are in every question
    assert tests["left"].hits == [True, True] and tests["cube"].hits == [True, False]
    assert tests["up"].chances == [0.5] and tests["up"].both_sides


def test_word_tests_count_correct_options_holding_each_word():
    recs = [_mc("red cube", ["blue cube", "red ball", "green cone"], letter=L, rid=f"r{i}") for i, L in enumerate("ABCD")]
    tests = {t.details["word"]: t for t in word_tests("t", recs)}
    assert "cube" in tests and tests["red"].hits == [True] * 4 and tests["red"].chances == [0.5] * 4
    assert tests["cube"].chances == [0.5] * 4 and tests["green"].hits == [False] * 4
    assert tests["green"].chances == [0.25] * 4 and tests["green"].both_sides


def test_wording_leak_fails_text_baseline_but_not_answer_prior(yesno_dataset, tmp_path):
    # every true statement of one task is worded "Is it true that ...": labels, answers and their
    # frequencies are untouched (the answer prior stays at chance), only the wording leaks
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
    line = next(x for x in r.stdout.splitlines() if x.startswith(f"BIAS 4dpqa/{task} (yesno): text baseline"))
    assert "; most telling features: for no: " in line
    assert any(f"'{w}'" in line.split("; for yes: ")[1] for w in phrase)
    assert "answer-prior" not in r.stdout and "BIAS 4dpqa/depth" not in r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["disagreements"] == []
    by = {(t["task"], t["baseline"]): t for t in rep["bias_tests"] if t["format"] == "yesno"}
    assert not by[(task, "prior")]["failed"] and by[(task, "text")]["failed"]
    assert by[(task, "text")]["accuracy"] > 0.55 and by[(task, "text")]["holm_p"] <= 0.01
    assert by[(task, "text")]["leading_features"]["yes"][0][0] in phrase
    assert not by[("depth", "text")]["failed"]
    # the question-word test names the planted words too, counting train and bench items
    named = [x for x in r.stdout.splitlines() if x.startswith(f"BIAS 4dpqa/{task} (yesno): question word ")]
    assert any(f"question word '{w}'" in x for x in named for w in ("true", "it", "that"))


# -- three clean datasets of 8 simulated scenes, and the same with a planted word -------------------------

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def sim8(tmp_path_factory) -> dict[int, Path]:
    """Per seed 1-3: a dataset generated (default settings) from 8 simulated scenes of 16 frames at
    96 px, as `qa4d simulate --scenes 8 --frames 16 --size 96 --seed K` and `qa4d generate --seed K`
    give them. Read-only: copy to edit."""
    if importlib.util.find_spec("qa4d.sources.sim.cli") is None:
        pytest.skip("the simulator (qa4d.sources.sim) is not available")
    from qa4d.cli import main

    out = {}
    for k in SEEDS:
        root = tmp_path_factory.mktemp(f"sim8_{k}")
        assert main(["simulate", "--out", str(root / "scenes"), "--scenes", "8", "--frames", "16", "--size", "96",
                     "--seed", str(k)]) == 0
        assert main(["generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--seed", str(k)]) == 0
        out[k] = root / "ds"
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_clean_small_simulated_datasets_pass(sim8, seed, tmp_path):
    ds = copy(sim8[seed], tmp_path)
    r = run_audit(ds)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["bias_failures"] == [] and rep["disagreements"] == []
    kinds = {(t["format"], t["baseline"]) for t in rep["bias_tests"]}
    assert kinds == {("mc", "position"), ("mc", "prior"), ("mc", "text"), ("mc", "word"), ("yesno", "prior"),
                     ("yesno", "text"), ("yesno", "word")}
    assert any(t["task"] == "*" for t in rep["bias_tests"])


def plant(ds: Path, word: str, task: str | None) -> int:
    """Append `word` to the correct option of every mc record (of `task`, or of every task); returns
    how many records were changed."""
    n = 0
    for split in ("train", "bench"):
        def fn(recs):
            nonlocal n
            for r in recs:
                if r["answer_format"] == "mc" and task in (None, r["task"]):
                    r["options"][r["answer"]] += " " + word
                    n += 1
            return recs
        edit(ds, split, fn)
    return n


def test_a_word_planted_on_one_task_fails_and_is_named(sim8, tmp_path):
    # depth is a comparison task: its record checks do not read option texts, so the only thing
    # wrong with this dataset is the planted word
    ds = copy(sim8[1], tmp_path)
    n = plant(ds, "clearly", "depth")
    r = run_audit(ds)
    assert r.returncode == 1, r.stdout
    rep = json.loads((ds / "audit.json").read_text())
    assert rep["disagreements"] == []
    bias = [x for x in r.stdout.splitlines() if x.startswith("BIAS ")]
    assert bias and all(x.startswith("BIAS 4dpqa/depth (mc): ") for x in bias), bias
    assert f"option word 'clearly' is in the correct option of {n}/{n} items" in bias[0]
    (t,) = [t for t in rep["bias_tests"] if t["failed"]]
    assert t["p_value"] == pytest.approx(2 * 0.25 ** n, rel=1e-3)  # two-sided: twice the upper tail and t["holm_p"] <= 0.01


def test_a_word_planted_on_every_task_fails_every_big_enough_task(sim8, tmp_path):
    ds = copy(sim8[1], tmp_path)
    n = plant(ds, "clearly", None)
    rep = audit(ds)
    assert not rep["ok"]
    # The word test names the word whatever the bench size. The fitted text baseline needs enough
    # bench items to reach significance (about 16-18 pooled mc bench items here; on one seed it
    # scored 11/18, p = 0.003, not significant after Holm over the whole family): not asserted here.
    pooled_word = next(f for f in rep["bias_failures"] if f.startswith("all tasks pooled (mc): option word 'clearly'"))
    assert f"{n}/{n} items" in pooled_word
    # every task whose items could reach significance is failed, naming the word
    for t in rep["bias_tests"]:
        if t["baseline"] == "word" and t["word"] == "clearly" and t["task"] != "*" and t["testable"]:
            assert t["failed"] and t["hits"] == t["n"], t




def test_bad_settings_and_bad_lines_are_one_line_errors(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    r = run_audit(ds, "--alpha", "0")
    assert r.returncode == 2 and r.stderr.strip() == "qa4d audit: --alpha must be a percentage in (0, 100), got 0.0"
    with open(ds / "bench" / "samples.jsonl", "a") as f:
        f.write("{not json\n")
    r = run_audit(ds)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "bench/samples.jsonl:" in r.stderr and "not valid JSON" in r.stderr


def test_a_record_failing_the_schema_is_reported_and_left_out_of_the_bias_tests(toy_dataset, tmp_path):
    ds = copy(toy_dataset, tmp_path)
    victim = {}

    def tamper(recs):
        r = next(r for r in recs if r["answer_format"] == "mc")
        del r["answer_format"]
        victim["id"] = r["id"]
        return recs

    edit(ds, "bench", tamper)
    rep = audit(ds)
    assert not rep["ok"] and [e["id"] for e in rep["schema_errors"]] == [victim["id"]]
    assert rep["checked"] == sum(rep["records"].values()) - 1


# -- (family, task) groups, the numeric-rank baseline and shortcuts accepted by design ------------------

def _fam_mc(family, task, answer_text, others, letter, rid, question="Which way does it move?"):
    r = _mc(answer_text, others, letter=letter, rid=rid)
    r.update(family=family, task=task, question=question, meta={})
    return r


def _direction_records(family, n, prefix, biased):
    """4-option direction items of task "counting"; biased: the answer is always "left" (a text
    prior); else every direction is the answer equally often. Letters cycle through A-D."""
    dirs = ["left", "right", "up", "down"]
    out = []
    for i in range(n):
        ans = "left" if biased else dirs[(i * 3) % 4]
        out.append(_fam_mc(family, "counting", ans, [d for d in dirs if d != ans], "ABCD"[i % 4], f"{family}/{prefix}{i}"))
    return out


def test_two_families_sharing_a_task_name_are_tested_apart():
    # families "fa" and "fb" both have a task "counting"; only fb's answer is always "left". Grouped
    # by task name alone the two would be one group; grouped by (family, task) only fb/counting fails
    from qa4d.engine.audit import bias_audit

    train = _direction_records("fa", 40, "t", False) + _direction_records("fb", 40, "t", True)
    bench = _direction_records("fa", 40, "b", False) + _direction_records("fb", 40, "b", True)
    rep = bias_audit(train, bench)
    assert set(rep["tasks"]) == {"fa/counting", "fb/counting"}
    assert rep["tasks"]["fb/counting"]["bench"]["mc_answer_texts"] == {"left": 40}
    named = [f.split(" (")[0] for f in rep["failures"]]
    assert "fb/counting" in named and not any(n.startswith("fa") for n in named), rep["failures"]
    prior = next(f for f in rep["failures"] if f.startswith("fb/counting (mc): answer-prior baseline 100.0%"))
    assert "'left' (40/40)" in prior
    fa = [t for t in rep["tests"] if t["family"] == "fa" and t["task"] == "counting"]
    assert fa and not any(t["failed"] for t in fa)
    assert {t["n"] for t in fa if t["baseline"] == "prior"} == {40}   # fa's own 40 bench items only


def _numeric_records(n, prefix, rank_of_answer, family="nf", task="elapsed"):
    """5-option items whose options are a ladder of durations ('0.50 s' ...) in the TimeBench
    layout (x0.25 .. x4), rotated over the letters; the answer is the option at rank_of_answer(i)
    (0 = smallest). Bench ('b') values differ from train ones, so the answer-text prior has nothing
    to learn."""
    out = []
    for i in range(n):
        base = 1.0 + 0.04 * i + (0.02 if prefix == "b" else 0.0)  # bench values never seen in train
        values = [round(base * f, 2) for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
        letters = "ABCDE"[i % 5:] + "ABCDE"[: i % 5]            # a rotation: the answer's letter cycles
        opts = {L: f"{v:.2f} s" for L, v in zip(letters, values)}
        r = {"id": f"{family}/{prefix}{i}", "family": family, "task": task, "answer_format": "mc",
             "question": "How much time passes between the first and the last frame?",
             "options": dict(sorted(opts.items())), "answer": letters[rank_of_answer(i)], "meta": {}}
        out.append(r)
    return out


def test_numeric_rank_helpers():
    from qa4d.engine.audit_baselines import option_number, option_ranks, rank_name

    assert option_number("1.25 s") == 1.25 and option_number("-0.40 m/s²") == -0.4 and option_number("3") == 3.0
    assert option_number("\u22122 m") == -2.0
    assert option_number("12 cm") == 12.0 and option_number("0.33 m/s²") == 0.33 and option_number(" 2 times ") == 2.0
    assert option_number("[396, 809]") is None and option_number("not moving") is None
    assert option_number("the object circled in red in frame 2") is None and option_number("2 m 3") is None
    assert option_number('{"dimensions": [20, 20, 33]}') is None and option_number("1.5.2") is None
    assert option_ranks({"options": {"A": "2", "B": "0", "C": "3", "D": "1"}}) == {"B": 0, "D": 1, "A": 2, "C": 3}
    assert option_ranks({"options": {"A": "2", "B": "2 m"}}) is None          # a tie has no rank
    assert option_ranks({"options": {"A": "2", "B": "no cube there"}}) is None
    assert [rank_name(i, 5) for i in range(5)] == ["smallest", "2nd smallest", "median", "2nd largest", "largest"]
    assert [rank_name(i, 4) for i in range(4)] == ["smallest", "2nd smallest", "2nd largest", "largest"]


def test_numeric_rank_median_answer_fails_and_is_named_a_balanced_one_passes():
    from qa4d.engine.audit import bias_audit

    # the answer is always the median of the five values, its letter balanced: the position, prior,
    # text and word tests see nothing, the numeric-rank baseline answers every bench item
    # (fitted on train, scored on bench) and the rank test (train and bench, no fitting) names it
    planted = bias_audit(_numeric_records(30, "t", lambda i: 2), _numeric_records(30, "b", lambda i: 2))
    fitted, rank = planted["failures"]
    assert fitted.startswith("nf/elapsed (mc): numeric-rank baseline (option at the rank most often "
                             "right) 100.0% vs chance 20.0% on 30 bench items, p = ")
    assert "of 5 options the median (train counts {'median': 30})" in fitted
    assert rank.startswith("nf/elapsed (mc): the answer is the median of the 5 numeric options in 60/60 items "
                           "(train and bench) vs chance 20.0%, p = 1.2e-42")
    (t,) = [t for t in planted["tests"] if t["baseline"] == "numeric_rank"]
    assert t["hits"] == 30 and t["p_value"] == pytest.approx(0.2 ** 30, rel=1e-3) and t["holm_p"] <= 0.01
    ranks = {t["rank"]: t for t in planted["tests"] if t["baseline"] == "rank" and t["task"] == "elapsed"}
    assert set(ranks) == {"smallest", "2nd smallest", "median", "2nd largest", "largest"}
    assert ranks["median"]["p_value"] == pytest.approx(0.2 ** 60, rel=1e-3)
    assert ranks["smallest"]["hits"] == 0 and not ranks["smallest"]["failed"]   # one-sided: too often only
    # with 2 bench items the fitted baseline cannot be significant (0.2^2 = 0.04), the rank test
    # counts train and bench: 10 of 10 at chance 1/5 is
    small = bias_audit(_numeric_records(8, "t", lambda i: 2), _numeric_records(2, "b", lambda i: 2))
    (line,) = small["failures"]
    assert line.startswith("nf/elapsed (mc): the answer is the median of the 5 numeric options in 10/10 items")
    # every rank equally often the answer: nothing fails, the baseline stays near chance
    balanced = bias_audit(_numeric_records(100, "t", lambda i: (i * 3) % 5), _numeric_records(100, "b", lambda i: (i * 2) % 5))
    assert balanced["failures"] == []
    (t,) = [t for t in balanced["tests"] if t["baseline"] == "numeric_rank"]
    assert t["n"] == 100 and abs(t["accuracy"] - 0.2) <= 0.06 and not t["failed"]


def test_a_shortcut_accepted_by_design_is_reported_with_its_figure_and_not_failed():
    from qa4d.engine.audit import bias_audit

    train = _numeric_records(30, "t", lambda i: 2) + _direction_records("fa", 40, "t", False)
    bench = _numeric_records(30, "b", lambda i: 2) + _direction_records("fa", 40, "b", False)
    rep = bias_audit(train, bench, accepts={"nf": {"*": {"numeric_rank"}}})
    assert rep["failures"] == []
    line, rank = rep["accepted"]  # the fitted baseline, and the rank test with the smallest p
    assert rank.startswith("nf/elapsed (mc): the answer is the median of the 5 numeric options in 60/60 items")
    assert rank.endswith("(not in the Holm family: accepted); accepted by design (nf thresholds.json audit_accepts)")
    assert line.startswith("nf/elapsed (mc): numeric-rank baseline (option at the rank most often right) 100.0% vs "
                           "chance 20.0% on 30 bench items, p = 1.1e-21 (not in the Holm family: accepted)")
    assert line.endswith("accepted by design (nf thresholds.json audit_accepts)")
    (t,) = [t for t in rep["tests"] if t["baseline"] == "numeric_rank" and t["task"] == "elapsed"]
    assert t["accepted"] and not t["failed"] and not t["testable"]
    assert all(t["accepted"] for t in rep["tests"] if t["baseline"] == "rank")
    # kept out of the pool: no pooled test is made of them
    assert not any(t["baseline"] in ("numeric_rank", "rank") and t["task"] == "*" for t in rep["tests"])
    # accepting it for another task of the family changes nothing for this one
    rep = bias_audit(train, bench, accepts={"nf": {"other_task": {"numeric_rank"}}})
    assert len(rep["failures"]) == 2 and rep["accepted"] == []


def test_audit_accepts_is_read_from_the_thresholds_file(tmp_path):
    from qa4d.engine.audit import family_accepts, read_accepts

    p = tmp_path / "thresholds.json"
    p.write_text(json.dumps({"default": {}, "audit_accepts": ["numeric_rank"]}))
    assert read_accepts(p) == {"*": {"numeric_rank"}}
    p.write_text(json.dumps({"default": {}, "audit_accepts": {"elapsed_time": ["numeric_rank", "position"]}}))
    assert read_accepts(p) == {"elapsed_time": {"numeric_rank", "position"}}
    p.write_text(json.dumps({"default": {}}))
    assert read_accepts(p) == {}
    p.write_text(json.dumps({"default": {}, "audit_accepts": ["median"]}))
    with pytest.raises(ValueError, match=r"thresholds.json: audit_accepts: 'median' \(for every task\) is not a baseline name"):
        read_accepts(p)
    # the published TimeBench layout puts the true duration at the median of its five options
    assert family_accepts(["timebench", "4dpqa"]) == {"timebench": {"*": {"numeric_rank"}}}


def test_text_baseline_fitted_over_a_family_learns_a_cue_its_tasks_share():
    # four tasks of family "fw", 6 train and 2 bench items each, the correct option always ends in
    # "clearly": a per-task model scores 2 bench items (at best 0.25^2, never significant); the
    # family's model is fitted on the 24 train items and scores all 8 bench items
    from qa4d.engine.audit import bias_audit
    from qa4d.engine.audit_baselines import family_text_tests

    colours = ["red", "blue", "green", "pink", "gold", "grey", "teal", "plum"]

    def recs(task, n, prefix):
        out = []
        for i in range(n):
            opts = [f"the {colours[(i + j) % 8]} {task} ball" for j in range(4)]
            letter = "ABCD"[(i + len(task)) % 4]
            out.append(_fam_mc("fw", task, opts[0] + " clearly", opts[1:], letter, f"fw/{task}/{prefix}{i}",
                               question=f"Which {task} ball is nearest?"))
        return out

    tasks = ["cube", "cone", "disc", "ring"]
    train = [r for t in tasks for r in recs(t, 6, "t")]
    bench = [r for t in tasks for r in recs(t, 2, "b")]
    (fam,) = family_text_tests(train, bench, ["fw"])
    assert (fam.family, fam.task, fam.n, sum(fam.hits)) == ("fw", "*", 8, 8)
    assert fam.details["leading_features"][0]["feature"] == "clearly"
    rep = bias_audit(train, bench)
    (t,) = [t for t in rep["tests"] if t["family"] == "fw" and t["task"] == "*" and t["baseline"] == "text"]
    assert t["failed"] and t["p_value"] == pytest.approx(0.25 ** 8, rel=1e-3)
    assert any(f.startswith("fw (all tasks pooled) (mc): text baseline 100.0% vs chance 25.0% on 8 bench items")
               and "'clearly' (in 24/24 correct options, 0/72 wrong)" in f for f in rep["failures"])
    assert not any(t["task"] != "*" and t["baseline"] == "text" and t["failed"] for t in rep["tests"])
    # a family with one task gets no family-wide test (it would repeat the task's own)
    assert family_text_tests([r for r in train if r["task"] == "cube"], [r for r in bench if r["task"] == "cube"], ["fw"]) == []


def _free(answer, rid, choices=("left", "right")):
    return {"id": rid, "family": "f", "task": "camera_x_movement", "answer_format": "free", "options": None,
            "answer": answer, "question": "Left or right?", "meta": {"choices": list(choices)}}


def test_closed_free_text_prior_catches_an_unbalanced_word_and_passes_a_balanced_one():
    """A free question with a closed answer set (meta.choices) has a chance level (1/K): a bench
    whose answer is nearly always the train majority fails; a balanced one passes; open answers
    (no meta.choices) get no test."""
    from qa4d.engine.audit import bias_audit
    from qa4d.engine.audit_baselines import closed_free_prior_baseline

    train = [_free("left" if i % 4 else "right", f"t{i}") for i in range(40)]   # majority: left
    skewed = [_free("Left." if i % 10 else "right", f"b{i}") for i in range(60)]  # 54/60 left
    (t,) = decide([closed_free_prior_baseline("camera_x_movement", train, skewed)])
    assert t.details["majority"] == "left" and t.n == 60 and t.chance == 0.5
    assert sum(t.hits) == 54 and t.failed
    fair = [_free(("left", "right")[i % 2], f"c{i}") for i in range(60)]
    (t,) = decide([closed_free_prior_baseline("camera_x_movement", train, fair)])
    assert sum(t.hits) == 30 and not t.failed
    rep = bias_audit(train, skewed)
    assert any("f/camera_x_movement (free)" in f and "always 'left'" in f for f in rep["failures"]), rep["failures"]
    open_ = [dict(r, meta={}) for r in train], [dict(r, meta={}) for r in skewed]
    assert bias_audit(*open_)["failures"] == []
