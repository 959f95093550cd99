"""Baselines (random, prior, oracle), python: callables and `qa4d eval` end to end on a qa4d split
that the test writes itself (samples.jsonl valid against the sample schema, tiny PNG frames)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from qa4d.bench.extract import extract
from qa4d.bench.models.base import ModelConfigError
from qa4d.bench.models.baselines import AnswerPrior, OracleModel, PriorModel, RandomModel
from qa4d.bench.types import BenchItem
from qa4d.cli import main as qa4d_main

from .tiny_bench import write_split

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    write_split(root, "train", 400, seed=1)
    write_split(root, "bench", 300, seed=2)
    return root


def eval_cli(*argv) -> int:
    return qa4d_main(["eval", *map(str, argv)])


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_oracle_scores_one_end_to_end(dataset, tmp_path):
    run = tmp_path / "oracle"
    assert eval_cli("--benchmark", dataset / "bench", "--model", "oracle", "--out", run) == 0
    m = metrics_of(run)
    assert m["overall"]["n"] == 300 and m["overall"]["unparsed"] == 0
    assert m["overall"]["accuracy"] == pytest.approx(1.0)
    assert set(m["by_task"]) == {"camera_movement", "object_moving", "point_track"}
    for f in ("predictions.jsonl", "scored.jsonl", "run.json", "report.md", "report.html"):
        assert (run / f).is_file(), f
    info = json.loads((run / "run.json").read_text())
    assert info["benchmark"] == "qa4d" and info["counts"]["answered"] == 300


def test_random_scores_near_chance_and_is_reproducible(dataset, tmp_path):
    assert eval_cli("--benchmark", dataset / "bench", "--model", "random", "--out", tmp_path / "r1", "--seed", 3) == 0
    m = metrics_of(tmp_path / "r1")
    for task, p in (("camera_movement", 0.25), ("object_moving", 0.5)):
        t = m["by_task"][task]
        sd = math.sqrt(p * (1 - p) / t["n"])
        assert abs(t["accuracy"] - p) < 4 * sd, (task, t["accuracy"])
    assert m["overall"]["unparsed"] == 0
    # same seed, same answers (also with --limit and in another run directory)
    assert eval_cli("--benchmark", dataset / "bench", "--model", "random", "--out", tmp_path / "r2", "--seed", 3,
                    "--limit", 50) == 0
    assert eval_cli("--benchmark", dataset / "bench", "--model", "random", "--out", tmp_path / "r3", "--seed", 3) == 0
    for f in ("predictions.jsonl", "scored.jsonl", "metrics.json"):
        assert (tmp_path / "r1" / f).read_bytes() == (tmp_path / "r3" / f).read_bytes(), f
    first = {json.loads(line)["id"]: line for line in (tmp_path / "r1/predictions.jsonl").read_text().splitlines()}
    for line in (tmp_path / "r2/predictions.jsonl").read_text().splitlines():
        assert first[json.loads(line)["id"]] == line


def test_prior_learns_the_train_answer_distribution(dataset, tmp_path):
    assert eval_cli("--benchmark", dataset / "bench", "--model", "prior", "--out", tmp_path / "p") == 0
    m = metrics_of(tmp_path / "p")
    bench = [json.loads(x) for x in (dataset / "bench/samples.jsonl").read_text().splitlines()]
    preds = {json.loads(x)["id"]: json.loads(x)["response"] for x in (tmp_path / "p/predictions.jsonl").read_text().splitlines()}
    for rec in bench:
        if rec["answer_format"] == "mc":  # always the option whose text is "left", wherever it is
            letter = next(L for L, t in rec["options"].items() if t == "left")
            assert preds[rec["id"]] == f"Answer: {letter}"
        elif rec["answer_format"] == "yesno":
            assert preds[rec["id"]] == "Answer: yes"
    want = np.mean([next(L for L, t in r["options"].items() if t == "left") == r["answer"]
                    for r in bench if r["answer_format"] == "mc"])
    assert m["by_task"]["camera_movement"]["accuracy"] == pytest.approx(want)
    assert want > 0.45  # well above chance (0.25): the prior is what blind answering gets


def test_prior_without_train_split_is_a_clear_error(tmp_path, capsys):
    write_split(tmp_path, "bench", 10, seed=0)
    assert eval_cli("--benchmark", tmp_path / "bench", "--model", "prior", "--out", tmp_path / "p") == 2
    err = capsys.readouterr().err
    assert "no train split" in err and str(tmp_path / "train" / "samples.jsonl") in err


def test_prior_unit_behaviour(tmp_path):
    train = tmp_path / "train.jsonl"
    rows = [{"task": "dist", "answer": a, "answer_format": "number", "options": None} for a in ("1.0", "2.0", "10")]
    rows += [{"task": "dir", "answer": "B", "answer_format": "mc", "options": {"A": "up", "B": "Down"}}] * 2
    rows += [{"task": "dir", "answer": "A", "answer_format": "mc", "options": {"A": "left", "B": "right"}}]
    train.write_text("\n".join(json.dumps(r) for r in rows))
    model = PriorModel(AnswerPrior(train))
    num = BenchItem("n", "x", "dist", "How far?", "3", answer_format="number", meta={"unit": "m"})
    assert model.generate("", [], num) == "Answer: 2 m"        # median of the task
    mc = BenchItem("m", "x", "dir", "Where?", "A", options={"A": "left", "B": "up", "C": "down"})
    assert model.generate("", [], mc) == "Answer: C"           # 'down' (case-insensitive), the mode
    other = BenchItem("o", "x", "unseen", "Where?", "A", options={"A": "sideways", "B": "down"})
    assert model.generate("", [], other) == "Answer: B"        # pooled over tasks
    assert model.describe()["tasks_not_in_train"] == {"unseen": 1}
    train.write_text('{"task": "t", "answer": "Z", "answer_format": "mc", "options": {"A": "a", "B": "b"}}\n')
    with pytest.raises(ModelConfigError, match=r"train.jsonl:1: field 'answer' 'Z'"):
        AnswerPrior(train)


def test_random_is_uniform_and_order_independent():
    items = [BenchItem(f"i{k}", "x", "t", "q", "A", options={L: L for L in "ABCDE"}) for k in range(2000)]
    model = RandomModel(seed=7)
    answers = [model.generate("", [], it) for it in items]
    counts = Counter(a[-1] for a in answers)
    assert set(counts) == set("ABCDE")
    chi2 = sum((c - 400) ** 2 / 400 for c in counts.values())
    assert chi2 < 18.5  # chi-square, 4 dof, p = 0.001
    assert [model.generate("", [], it) for it in reversed(items)] == answers[::-1]
    assert [RandomModel(seed=8).generate("", [], it) for it in items[:50]] != answers[:50]


@pytest.mark.parametrize("fmt,answer,meta", [
    ("mc", "C", {}),
    ("yesno", "no", {}),
    ("number", "3.5", {"unit": "m"}),
    ("free", "red cube", {}),
    ("track", json.dumps([{"frame": 0, "x": 1.0, "y": 2.0, "visible": True},
                          {"frame": 3, "x": 4.5, "y": 6.0, "visible": False}]), {}),
])
def test_oracle_and_random_outputs_parse(fmt, answer, meta):
    opts = {L: f"option {L}" for L in "ABCD"} if fmt == "mc" else None
    item = BenchItem("x", "b", "t", "q?", answer, answer_format=fmt, options=opts, meta=meta)
    ex = extract(OracleModel().generate("", [], item), item)
    assert ex.value is not None
    if fmt == "track":
        assert [(p["frame"], p["x"], p["y"], p["visible"]) for p in ex.value] == \
               [(p["frame"], p["x"], p["y"], p["visible"]) for p in json.loads(answer)]
    elif fmt == "number":
        assert float(ex.value) == pytest.approx(3.5)
    else:
        assert ex.value == answer
    assert extract(RandomModel(0).generate("", [], item), item).value is not None


USER_MODEL = '''
CALLS = []
def answer(prompt, images, item):
    CALLS.append(item.id)
    assert all(im.size == (32, 24) for im in images)
    if item.options:
        return "I think the answer is " + next(k for k, v in item.options.items() if v == "left") + "."
    return "Answer: yes"
'''


def test_python_callable_model_from_a_file(dataset, tmp_path):
    src = tmp_path / "my_vlm.py"
    src.write_text(USER_MODEL)
    run = tmp_path / "py"
    code = eval_cli("--benchmark", dataset / "bench", "--model", f"python:{src}:answer", "--out", run,
                    "--limit", 20, "--frames", 2, "--concurrency", 3)
    assert code == 0
    preds = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 20 and all(p["response"] for p in preds)
    info = json.loads((run / "run.json").read_text())
    assert info["model_info"] == {"model": "python", "callable": f"{src}:answer"}


def test_python_callable_bad_specs(tmp_path, capsys):
    write_split(tmp_path, "bench", 5, seed=0)
    for spec, msg in (("python:nosuchmod_xyz:f", "cannot import module"),
                      ("python:json:no_such_fn", "has no attribute"),
                      ("python:json", "expected python:MODULE:CALLABLE"),
                      ("gpt9", "unknown model 'gpt9'")):
        assert eval_cli("--benchmark", tmp_path / "bench", "--model", spec, "--out", tmp_path / "x") == 2
        assert msg in capsys.readouterr().err


def test_cli_missing_media_exit_1_before_any_model_call(tmp_path, capsys):
    write_split(tmp_path, "bench", 5, seed=0)
    (tmp_path / "frames/s1.png").unlink()
    # a model that looks at images: stopped before it is even built (its module writes a marker on import)
    marker = tmp_path / "imported"
    (tmp_path / "seeing.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                        "def answer(prompt, images, item):\n    return 'Answer: A'\n")
    assert eval_cli("--benchmark", tmp_path / "bench", "--model", f"python:{tmp_path / 'seeing.py'}:answer",
                    "--out", tmp_path / "o") == 1
    err = capsys.readouterr().err
    assert "media file(s) missing" in err and "s1.png" in err
    assert not (tmp_path / "o" / "predictions.jsonl").exists() and not marker.exists()
    # a blind model needs no media at all
    assert eval_cli("--benchmark", tmp_path / "bench", "--model", "oracle", "--out", tmp_path / "b") == 0
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["overall"]["accuracy"] == pytest.approx(1.0)


def test_cli_benchmark_resolution(dataset, tmp_path, capsys):
    run = tmp_path / "o"
    assert eval_cli("--benchmark", dataset / "bench" / "samples.jsonl", "--model", "oracle", "--out", run,
                    "--limit", 10) == 0
    assert json.loads((run / "metrics.json").read_text())["overall"]["accuracy"] == pytest.approx(1.0)
    assert eval_cli("--benchmark", "vlm4d", "--model", "oracle", "--out", tmp_path / "v") == 1
    assert "--benchmark vlm4d needs --annotations" in capsys.readouterr().err
    assert eval_cli("--benchmark", "no-such-bench", "--model", "oracle", "--out", tmp_path / "n") == 1
    assert "unknown benchmark 'no-such-bench'" in capsys.readouterr().err
    assert eval_cli("--benchmark", tmp_path / "missing" / "bench", "--model", "oracle", "--out", tmp_path / "m") == 1
    assert "no such directory" in capsys.readouterr().err


def test_a_concurrency_below_one_is_refused_not_replaced(tmp_path, capsys):
    """--concurrency 0 (or -2) used to run silently at the default (8 for openai, 1 for python
    callables); it is now a one-line error before any item is asked."""
    write_split(tmp_path, "bench", 5, seed=0)
    (tmp_path / "m.py").write_text("def answer(prompt, images, item):\n    return 'Answer: A'\n")
    for n in (0, -2):
        out = tmp_path / f"o{n}"
        assert eval_cli("--benchmark", tmp_path / "bench", "--model", f"python:{tmp_path / 'm.py'}:answer",
                        "--out", out, "--concurrency", n) == 2
        assert f"--concurrency must be at least 1, got {n}" in capsys.readouterr().err
        assert not (out / "predictions.jsonl").exists() or not (out / "predictions.jsonl").read_text()
    # the openai model refuses it before it opens a connection pool (no server needed to say so)
    assert eval_cli("--benchmark", tmp_path / "bench", "--model", "openai", "--base-url", "http://127.0.0.1:9/v1",
                    "--model-name", "m", "--out", tmp_path / "oa", "--concurrency", 0) == 2
    assert "--concurrency must be at least 1, got 0" in capsys.readouterr().err
