"""A format registered from this file alone goes through the whole harness: its instruction is in
the prompt, replies are read and scored by it, and the random, prior, oracle and obedient models
answer it, on a tiny in-memory benchmark; the dataset schema accepts its records while it is
registered."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from qa4d.answers import AnswerFormat, Extraction, format_names, register_format, unregister_format
from qa4d.answers.statements import strip_reasoning
from qa4d.bench.benchmarks.base import Benchmark
from qa4d.bench.extract import extract
from qa4d.bench.models.baselines import AnswerPrior, ObedientModel, OracleModel, PriorModel, RandomModel
from qa4d.bench.runner import run_model, score_run
from qa4d.bench.types import BenchItem
from qa4d.dataset import RecordError, validate_record

COLOURS = ("red", "green", "blue")
_COLOUR_RE = re.compile(r"\b(red|green|blue)\b", re.IGNORECASE)
DO = "Answer with one colour: red, green or blue."
COT = "Think it through, then end with the line 'Therefore, the final answer is: X', where X is red, green or blue."


class ToyColour(AnswerFormat):
    """The answer is one of three colours; the last colour word of the reply is the answer."""

    answer_template = False
    instructions = {"generic": {"do": ["alone", DO], "cot": ["final_line", COT]}}

    def extract(self, text, item):
        found = _COLOUR_RE.findall(strip_reasoning(text))
        return Extraction(found[-1].lower(), "colour_word", found[-1]) if found else Extraction(None, "unparsed", "")

    def guess_keys(self, item):
        return list(COLOURS)

    def score(self, item, ex):
        ok = ex.value == item.answer
        return ok, float(ok), {}

    def chance(self, item):
        return 1.0 / len(COLOURS)

    def random_reply(self, item, rng):
        return f"Colour: {COLOURS[int(rng.integers(len(COLOURS)))]}"


@pytest.fixture
def toy():
    register_format("toy_colour")(ToyColour)
    try:
        yield "toy_colour"
    finally:
        unregister_format("toy_colour")


class ToyBench(Benchmark):
    name = "toybench"
    default_frames = None
    media_kind = "images"

    def __init__(self, items):
        self.items = items

    def load(self, annotations, media_root=None):
        return list(self.items)


def _answers(n: int, seed: int) -> list[str]:
    """Colours with red 60%, green 25%, blue 15%."""
    rng = np.random.default_rng(seed)
    return [str(c) for c in rng.choice(COLOURS, size=n, p=[0.6, 0.25, 0.15])]


def _items(n: int, seed: int) -> list[BenchItem]:
    return [BenchItem(id=f"q{i}", benchmark="toybench", task=f"task{i % 2}", question=f"What colour is ball {i}?",
                      answer=a, answer_format="toy_colour", media=[], media_kind="images")
            for i, a in enumerate(_answers(n, seed))]


def _run(bench, items, model, out, mode="do"):
    run_model(bench, items, model, out, media_root=None, mode=mode, progress=False, log=lambda m: None)
    return score_run(bench, items, out)


def test_toy_format_is_listed_and_validated_only_while_registered(toy):
    assert format_names()[-1] == toy
    record = {"id": "r0", "family": "toy", "task": "t", "category": "c", "scene_id": "s", "media": [],
              "frame_indices": [], "timestamps": [], "question": "What colour?", "options": None,
              "answer": "red", "answer_format": toy, "meta": {"objects": [], "measurement": None}}
    assert validate_record(record) is record
    unregister_format(toy)
    try:
        with pytest.raises(RecordError, match="answer_format"):
            validate_record(record)
    finally:
        register_format(toy)(ToyColour)


def test_toy_format_instructed_extracted_and_scored(toy, tmp_path):
    items = _items(40, 1)
    bench = ToyBench(items)
    assert bench.build_prompt(items[0], "do").endswith(DO)
    assert bench.build_prompt(items[0], "cot").endswith(COT)
    ex = extract("<think>maybe red</think>It looks green to me.", items[0])
    assert (ex.value, ex.rule) == ("green", "colour_word")
    assert extract("no idea", items[0], guess=True, rng=np.random.default_rng(0)).rule == "random_guess"
    metrics = _run(bench, items, OracleModel(), tmp_path / "oracle")
    assert metrics["overall"]["accuracy"] == 1.0
    assert metrics["overall"]["chance"] == pytest.approx(1 / 3)
    rows = [json.loads(line) for line in (tmp_path / "oracle" / "scored.jsonl").read_text().splitlines()]
    assert {r["rule"] for r in rows} == {"colour_word"} and all(r["correct"] is True for r in rows)


@pytest.mark.parametrize("mode", ["do", "cot"])
def test_obedient_scores_one_on_the_toy_format(toy, tmp_path, mode):
    items = _items(30, 2)
    bench = ToyBench(items)
    metrics = _run(bench, items, ObedientModel(bench), tmp_path / mode, mode)
    assert metrics["overall"]["accuracy"] == 1.0 and metrics["overall"]["n"] == 30
    preds = [json.loads(line) for line in (tmp_path / mode / "predictions.jsonl").read_text().splitlines()]
    if mode == "cot":  # reasoning, then the final line the instruction asks for
        assert all(p["response"].rsplit("\n", 1)[-1] == f"Therefore, the final answer is: {it.answer}"
                   for p, it in zip(preds, items))
    else:
        assert [p["response"] for p in preds] == [it.answer for it in items]


def test_random_scores_chance_on_the_toy_format(toy, tmp_path):
    n = 900
    items = _items(n, 3)
    metrics = _run(ToyBench(items), items, RandomModel(seed=5), tmp_path / "random")
    acc = metrics["overall"]["accuracy"]
    assert abs(acc - 1 / 3) <= 4 * math.sqrt((1 / 3) * (2 / 3) / n)


def test_prior_answers_the_train_majority_on_the_toy_format(toy, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps({"task": f"task{i % 2}", "answer": a, "answer_format": "toy_colour"}) + "\n"
                             for i, a in enumerate(_answers(400, 4))))
    items = _items(300, 5)
    metrics = _run(ToyBench(items), items, PriorModel(AnswerPrior(train)), tmp_path / "prior")
    # the majority of train is red in both tasks, so the prior scores the share of red in bench
    assert metrics["overall"]["accuracy"] == pytest.approx(np.mean([it.answer == "red" for it in items]))
