"""The answer-format registry: its list is the schema's, and each format's chance agrees with what
its random answer scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qa4d.answers import Extraction, format_names, formats, get_format
from qa4d.bench.extract import extract
from qa4d.bench.models.baselines import RandomModel
from qa4d.bench.scoring import score_item
from qa4d.bench.types import BenchItem
from qa4d.dataset import ANSWER_FORMATS, load_schema

BUILTIN = ("mc", "yesno", "free", "track", "number", "scalar", "vector", "coord")


def test_registry_lists_the_schema_formats_in_order():
    schema = load_schema()
    assert format_names()[:len(BUILTIN)] == BUILTIN
    assert tuple(schema["properties"]["answer_format"]["enum"]) == format_names() == ANSWER_FORMATS
    assert [f.name for f in formats()] == list(format_names())


def test_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown answer_format 'dice'.*mc, yesno"):
        get_format("dice")


def _item(i: int, fmt: str, answer: str, options=None, meta=None) -> BenchItem:
    return BenchItem(id=f"{fmt}-{i}", benchmark="t", task="t", question="?", answer=answer, answer_format=fmt,
                     options=options, meta=meta or {})


def _random_scores(items: list[BenchItem]) -> np.ndarray:
    model = RandomModel(seed=7)
    return np.array([score_item(it, extract(model.generate("", [], it), it))[1] for it in items])


@pytest.mark.parametrize("fmt,k", [("mc", 2), ("mc", 3), ("mc", 4), ("mc", 5), ("yesno", 2), ("free", 2), ("free", 3)])
def test_random_scores_chance_on_finite_answer_sets(fmt, k):
    """Over 3000 items the random model's mean score is the format's chance within 4 binomial
    standard deviations (a failure by chance has probability < 1e-4)."""
    n = 3000
    letters = "ABCDE"[:k]
    items = []
    for i in range(n):
        if fmt == "mc":
            items.append(_item(i, fmt, letters[i % k], options={L: f"choice {L.lower()}" for L in letters}))
        elif fmt == "free":  # a closed set of words (MultiSPA's directions), named in meta.choices
            words = ["left", "right", "not moving"][:k]
            items.append(_item(i, fmt, words[i % k].upper(), meta={"choices": words + [words[0].title()]}))
        else:
            items.append(_item(i, fmt, ("yes", "no")[i % 2]))
    chance = np.array([get_format(fmt).chance(it) for it in items])
    assert np.allclose(chance, 1.0 / k)
    mean = _random_scores(items).mean()
    assert abs(mean - 1.0 / k) <= 4 * math.sqrt((1 / k) * (1 - 1 / k) / n)


def _far_items(fmt: str, n: int) -> list[BenchItem]:
    """Items whose truth lies outside everything the random model can say: chance is 0 there."""
    if fmt == "free":
        return [_item(i, fmt, "a purple elephant") for i in range(n)]
    if fmt in ("number", "scalar"):
        return [_item(i, fmt, "5000", meta={"unit": "mm"}) for i in range(n)]
    if fmt == "vector":
        return [_item(i, fmt, "[900, -800, 700]", meta={"unit": "mm"}) for i in range(n)]
    if fmt == "coord":  # random points stay inside the 0-1000 image; the truth is far outside it
        return [_item(i, fmt, "[5000, 5000]", meta={"coords": "per_mille", "coord_scale": 1000.0,
                                                    "image_size": [1000.0, 1000.0]}) for i in range(n)]
    if fmt == "track":  # a truth off the image in every frame: random positions never come near
        track = [{"frame": f, "x": 50.0, "y": 50.0, "visible": True} for f in (1, 2, 3)]
        meta = {"track": track, "query": {"frame": 1, "x": 50.0, "y": 50.0}, "coords": "unit",
                "image_size": [1.0, 1.0]}
        return [_item(i, fmt, json.dumps(track), meta=meta) for i in range(n)]
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["free", "number", "scalar", "vector", "coord", "track"])
def test_open_formats_have_chance_zero_and_random_scores_zero_far_from_its_range(fmt):
    items = _far_items(fmt, 300)
    assert all(get_format(fmt).chance(it) == 0.0 for it in items)
    scores = _random_scores(items)
    assert scores.max() == 0.0


def test_every_builtin_format_is_covered_by_the_chance_tests():
    covered = {"mc", "yesno"} | {"free", "number", "scalar", "vector", "coord", "track"}
    assert covered == set(BUILTIN)


@pytest.mark.parametrize("fmt,gt,preds,want", [
    # scalar / vector: correct when the relative (L2) error is at most 20%
    ("scalar", [100.0], [[119.0], [121.0], [80.5], [79.0]], [1.0, 0.0, 1.0, 0.0]),
    ("vector", [300.0, 0.0, 400.0], [[300.0, 0.0, 499.0], [300.0, 0.0, 501.0], [0.0, 0.0, 400.0]], [1.0, 0.0, 0.0]),
    # coord on the 0-1000 scale: within 5% of the width, 50 units
    ("coord", [500.0, 500.0], [[549.0, 500.0], [551.0, 500.0], [530.0, 530.0], [540.0, 540.0]], [1.0, 0.0, 1.0, 0.0]),
    # number: mean relative accuracy; a 32% error passes the thresholds 0.50, 0.55, 0.60, 0.65 of ten
    ("number", [10.0], [[10.0], [6.8], [20.0]], [1.0, 0.4, 0.0]),
])
def test_item_score_and_audit_array_metric_agree_with_closed_form(fmt, gt, preds, want):
    f = get_format(fmt)
    meta = {"coords": "per_mille", "coord_scale": 1000.0, "image_size": [1000.0, 1000.0]} if fmt == "coord" else {"unit": "mm"}
    answer = json.dumps(gt) if len(gt) > 1 else f"{gt[0]:g}"
    item = _item(0, fmt, answer, meta=meta)
    per_item = [f.score(item, Extraction(p if len(p) > 1 else p[0], "test"))[1] for p in preds]
    arrays = f.score_values(np.array(preds), np.array([gt] * len(preds)), np.full(len(preds), 1000.0))
    assert per_item == pytest.approx(want)
    assert arrays.tolist() == pytest.approx(want)


def test_a_family_with_its_own_wording_is_asked_in_it_for_the_formats_it_lists():
    """record_form: multispa's free and scalar records ask for the value in backticks (its section of
    instructions.json), its mc records and other families' free records use the generic lines; the
    unit and coordinate space come from the record as the qa4d benchmark reads them."""
    from qa4d.answers.forms import family_wording, record_form

    assert family_wording("multispa", "free") == "multispa" and family_wording("multispa", "mc") == "generic"
    assert family_wording("4dpqa", "free") == family_wording(None, "free") == family_wording("units", "free") == "generic"
    base = {"question": "q", "options": None, "media": [], "frame_indices": [], "timestamps": []}
    word = record_form({**base, "family": "multispa", "answer_format": "free", "answer": "`left`",
                        "meta": {"value": "left", "choices": ["left", "right"]}})
    assert word.place == "backticks" and "inside backticks" in word.instruction
    sentence = record_form({**base, "family": "4dpqa", "answer_format": "free", "answer": "It moves left.", "meta": {}})
    assert sentence.place == "alone" and sentence.instruction == "Answer in one short sentence."
    mm = record_form({**base, "family": "multispa", "answer_format": "scalar", "answer": "`2418`",
                      "meta": {"value": 2418, "unit": "mm"}})
    assert "millimetres" in mm.instruction and "backticks" in mm.instruction
    point = record_form({**base, "family": "multispa", "answer_format": "coord", "answer": "`[1, 2]`",
                         "meta": {"value": [1, 2], "space": "per_mille", "scale": 1000.0}})
    assert point.coords == "per_mille" and "0-1000" in point.instruction
    letter = record_form({**base, "family": "multispa", "answer_format": "mc", "answer": "A",
                          "options": {"A": "x", "B": "y"}, "meta": {}})
    assert letter.instruction == "Answer with the option's letter from the given choices directly."
