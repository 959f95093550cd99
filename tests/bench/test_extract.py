"""Answer extraction: every rule, on hand-made responses and on the real VLM4D questions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa4d.bench.benchmarks.vlm4d import VLM4D
from qa4d.bench.extract import (
    convert_unit,
    extract,
    extract_choice,
    extract_free,
    extract_number,
    extract_track,
    extract_tuple,
)
from qa4d.bench.types import BenchItem
from tests.bench.scoring_fixtures import VLM4D_DIR

OPTS = {"A": "not moving", "B": "there are no buses in the video", "C": "right", "D": "left"}


@pytest.mark.parametrize("text,value,rule", [
    ("Therefore, the final answer is: D", "D", "final_answer"),
    ("The correct answer is (B).", "B", "final_answer"),
    ("Final answer: left", "D", "final_answer"),
    ("<answer>C</answer>", "C", "answer_tag"),
    ("<answer> right </answer>", "C", "answer_tag"),
    ("C", "C", "leading_letter"),
    ("(C) right", "C", "leading_letter"),
    ("**D**: left", "D", "leading_letter"),
    ("B. there are no buses in the video", "B", "leading_letter"),
    ("Answer: C", "C", "answer_colon"),
    ("I looked closely.\nanswer: A", "A", "answer_colon"),
    ("left", "D", "option_text"),
    ("The bus is not moving at all.", "A", "option_text"),
    ("A bus drives to the right.", "C", "option_text"),  # "A" is an article here, not the option
    ("A seems wrong and B is impossible, so I pick D.", "D", "last_letter"),
    ("<think>It could be A, B or C.</think>D", "D", "leading_letter"),
])
def test_choice_rules(text, value, rule):
    ex = extract_choice(text, OPTS)
    assert (ex.value, ex.rule) == (value, rule)


def test_rule_order_final_statement_beats_earlier_letters():
    text = "A. not moving? No.\nAnswer: B would be wrong.\nTherefore, the final answer is: C"
    assert extract_choice(text, OPTS).value == "C"
    # the last final statement wins when reasoning restates one
    text = "The final answer is not obvious: maybe A. After watching again, the final answer is: D."
    assert extract_choice(text, OPTS).value == "D"


@pytest.mark.parametrize("text", [
    "", "I cannot tell from these frames.", "It is either left or right.", "The answer options are many.",
])
def test_choice_unparsed_never_guesses(text):
    ex = extract_choice(text, OPTS)
    assert ex.value is None and ex.rule == "unparsed"


def test_guess_flag_is_seeded_and_marked():
    item = BenchItem(id="x", benchmark="t", task="t", question="q", answer="A", options=OPTS)
    a = [extract("???", item, guess=True, rng=np.random.default_rng(7)).value for _ in range(3)]
    b = [extract("???", item, guess=True, rng=np.random.default_rng(7)).value for _ in range(3)]
    assert a == b and a[0] in OPTS
    assert extract("???", item, guess=True, rng=np.random.default_rng(7)).rule == "random_guess"
    assert extract("???", item).value is None  # guessing is off by default
    # a parsable answer is never replaced by a guess
    assert extract("Answer: B", item, guess=True).value == "B"


@pytest.mark.parametrize("text,value,rule", [
    ("Yes.", "yes", "leading_word"),
    ("No, the cube stays put.", "no", "leading_word"),
    ("Looking at the frames, the final answer is: no", "no", "final_answer"),
    ("<answer>yes</answer>", "yes", "answer_tag"),
    ("It clearly does not; so no.", "no", "option_text"),
])
def test_yesno(text, value, rule):
    ex = extract_choice(text, {"yes": "yes", "no": "no"}, letters=False)
    assert (ex.value, ex.rule) == (value, rule)
    assert extract_choice("It could be yes or no.", {"yes": "yes", "no": "no"}, letters=False).value is None


@pytest.mark.parametrize("text,unit,default,value,rule", [
    ("The depth is `2249` mm.", "mm", None, 2249.0, "backtick"),
    ("Roughly 1.2 meters.", "mm", None, 1200.0, "unique_number"),
    ("It is 35 cm wide.", "m", None, 0.35, "unique_number"),
    ("About 3 ft.", "m", None, 0.9144, "unique_number"),
    ("12 inches", "cm", None, 30.48, "leading_number"),
    ("2 km", "m", None, 2000.0, "leading_number"),
    ("The camera yawed by 0.5 rad.", "deg", None, math.degrees(0.5), "unique_number"),
    ("Answer: 45 degrees", "deg", None, 45.0, "answer_colon"),
    ("There are 3 chairs and 2 tables; the final answer is 3.", None, None, 3.0, "final_answer"),
    ("three", None, None, 3.0, "unique_number"),
    ("`1147`", "m", "mm", 1.147, "backtick"),  # MultiSPA: bare answer in the asked unit (mm)
    ("1,250 mm", "m", "mm", 1.25, "leading_number"),
])
def test_numbers_and_units(text, unit, default, value, rule):
    ex = extract_number(text, unit, default)
    assert ex.rule == rule
    assert ex.value == pytest.approx(value)


def test_number_ambiguous_is_unparsed():
    assert extract_number("It moved 3 m in 2 s.", "m").value is None


def test_convert_unit_incompatible_is_identity():
    assert convert_unit(3.0, "deg", "m") == 3.0
    assert convert_unit(1.0, "ft", "in") == pytest.approx(12.0)


def test_vectors_and_coordinates():
    ex = extract_tuple("We have $\\begin{bmatrix} -372, 66, -149 \\end{bmatrix}$ mm as the shift.", 3, "m", "mm")
    assert ex.value == pytest.approx([-0.372, 0.066, -0.149])
    ex = extract_tuple("Vector: `[1.5, 0, -2]` m", 3, "m", "mm")
    assert (ex.rule, ex.value) == ("backtick", pytest.approx([1.5, 0.0, -2.0]))
    ex = extract_tuple("The point has moved to [363, 70] in Image-2.", 2)
    assert ex.value == [363.0, 70.0]
    assert extract_tuple("from [1, 2] to [3, 4]", 2).value is None  # two candidates: no guess
    assert extract_tuple("Final answer: (3, 4)", 2).value == [3.0, 4.0]


def test_tracks_json_and_lines():
    ex = extract_track('```json\n[{"frame": 2, "x": 5, "y": 6, "visible": false}, {"frame": 0, "x": 1, "y": 2, "visible": true}]\n```')
    assert ex.rule == "json"
    assert [p["frame"] for p in ex.value] == [0, 2] and ex.value[1]["visible"] is False
    ex = extract_track("frame 0: (10, 20) visible\nframe 1: occluded\nframe 2: (12.5, 21) not visible")
    assert ex.rule == "frame_lines"
    assert [(p["frame"], p["visible"]) for p in ex.value] == [(0, True), (1, False), (2, False)]
    assert ex.value[2]["x"] == 12.5 and math.isnan(ex.value[1]["x"])
    assert extract_track("the point disappears").value is None


def test_free_text():
    assert extract_free("The object is the `red cube`.").value == "red cube"
    assert extract_free("Red cube.").value == "red cube"
    assert extract_free("Final answer: Red Cube").rule == "final_answer"
    ex = extract_free("It shows a noticeable move 'left' along the camera's horizontal axis.")
    assert (ex.value, ex.rule) == ("left", "quoted")
    assert extract_free("The correct point in Image-2 is 'D'.").value == "d"


# ----------------------------------------------------------------------------- real VLM4D

@pytest.fixture(scope="module")
def vlm4d_items():
    return VLM4D().load(VLM4D_DIR)


def _wrong_letter(item):
    return next(k for k, v in item.options.items() if str(v).strip().lower() != item.options[item.answer].strip().lower())


STYLES = {
    "final": lambda L, t: f"The object starts near the middle and its motion is consistent. Therefore, the final answer is: {L}",
    "tag": lambda L, t: f"<think>Options A and B look unlikely.</think><answer>{L}</answer>",
    "leading": lambda L, t: f"{L}. {t}",
    "answer_colon": lambda L, t: f"Looking at the frames carefully.\nAnswer: {L}",
    "text_only": lambda L, t: f"{t}",
    "several_letters": lambda L, t: f"A could fit at first, B and C less so, D is odd. After checking again I choose {L}.",
}


@pytest.mark.parametrize("style", list(STYLES))
def test_every_style_on_every_real_vlm4d_question(vlm4d_items, style):
    make = STYLES[style]
    for item in vlm4d_items:
        for letter in (item.answer, _wrong_letter(item)):
            ex = extract(make(letter, str(item.options[letter])), item)
            expected = {item.options[letter].strip().lower()}
            assert ex.value is not None, (style, item.id)
            assert item.options[ex.value].strip().lower() in expected, (style, item.id, ex)


def test_garbage_is_unparsed_on_every_real_question(vlm4d_items):
    for item in vlm4d_items:
        for text in ("I am not able to determine this from the video.", "", "???"):
            assert extract(text, item).rule == "unparsed", item.id
