"""vlm4d "no <object> there" questions name their absent object like the present objects the
task asks about (phase 2, `matched_absent`): the category, size and colour words of a question then
say nothing about whether its object is there, which is what the audit's option-word test and text
baseline look for."""

from __future__ import annotations

from collections import Counter

import numpy as np

from qa4d.engine.families.vlm4d import _base as vb

PRESENT = {"name:duck|small|red": 30, "name:mug|medium-sized|blue": 60, "name:toy|large|cyan": 10}


def absent_cand(choices):
    return {"label": f"absent:{choices[0]}", "absent_choices": list(choices),
            "extra_meta": {"fp": "absent", "absent_category": choices[0], "absent_name": f"the small red {choices[0]}"}}


def test_absent_names_follow_the_present_names():
    """Every category eligible everywhere: absent names are drawn with the present names'
    frequencies (30 : 60 : 10), so P(absent | name) is the same for every name."""
    pool = {"left": 10, "absent": 10, **PRESENT, "eligible:duck": 400, "eligible:mug": 400, "eligible:toy": 400,
            "eligible:cube": 400}
    got = Counter()
    for i in range(4000):
        c = vb.matched_absent(absent_cand(["duck", "mug", "toy", "cube"]), pool, np.random.default_rng(i))
        got[c["extra_meta"]["absent_name"]] += 1
        assert c["label"] == f"absent:{c['extra_meta']['absent_category']}"
    # binomial sd at n = 4000 is < 32: 6 sd margins
    assert abs(got["the small red duck"] - 1200) < 190
    assert abs(got["the medium-sized blue mug"] - 2400) < 190
    assert abs(got["the large cyan toy"] - 400) < 190
    assert not any("cube" in k for k in got)   # never asked about when present: never named absent


def test_a_category_present_in_the_scene_is_never_drawn_and_rarer_eligibility_is_compensated():
    """A mug is in half the absent questions' scenes: only the other half may name it, each with
    twice the weight (count / eligible questions), so mugs are still named about as often relative
    to their present count as ducks and toys."""
    pool = {**PRESENT, "eligible:duck": 200, "eligible:mug": 100, "eligible:toy": 200}
    got = Counter()
    for i in range(200):
        choices = ["duck", "mug", "toy"] if i % 2 else ["duck", "toy"]
        c = vb.matched_absent(absent_cand(choices), pool, np.random.default_rng(i))
        assert c["extra_meta"]["absent_category"] in choices
        got[c["extra_meta"]["absent_category"]] += 1
    # expectations: odd i (weights duck .15, mug .6, toy .05) and even i (duck .15, toy .05)
    want = {"duck": 100 * (0.15 / 0.8) + 100 * 0.75, "mug": 100 * (0.6 / 0.8), "toy": 100 * (0.05 / 0.8) + 100 * 0.25}
    for k, v in want.items():
        assert abs(got[k] - v) < 25, (got, want)
    # without the compensation (weights 30 : 60 : 10) mugs would get 60, not 75
    assert got["mug"] > got["duck"] - 20 and got["duck"] > got["toy"]


def test_without_present_names_the_phase_1_draw_stands():
    cand = absent_cand(["duck", "toy"])
    assert vb.matched_absent(cand, {"left": 3, "eligible:duck": 1}, np.random.default_rng(0)) is cand



# ------------------------------------------------------------------------------ counting: options 0-3, uniform answers


def _count_cand(n: int) -> dict:
    return {"key": f"translating:{n}", "label": f"n:{n}", "option_keys": [f"n:{k}" for k in range(4) if k != n],
            "refs": [], "objects": [], "segment": [0, 16], "group": "exo",
            "extra_meta": {"motion": "translating", "style": "counting_translating"}}


def test_counting_offers_0_to_3_and_asks_only_a_wording_balanced_over_them():
    """Balancing (mode "uniform") leaves each wording's counts equal; render asks only when the
    split's pool has every count 0-3 of the wording equally often, and always offers 0, 1, 2, 3."""
    import pytest

    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.families.vlm4d.counting import Counting
    from qa4d.engine.kinds.base import RenderEnv, Skip

    task = Counting()
    assert task.balance_mode == "uniform"
    even = {f"translating:{k}": 3 for k in range(4)} | {"rotating:0": 7}
    for n in range(4):
        out = task.render(_count_cand(n), "mc", n % 4, np.random.default_rng(n), RenderEnv(None, GenerateConfig("scenes", "out"), even))
        assert sorted(out["options"].values()) == ["0", "1", "2", "3"]
        assert out["options"][out["answer"]] == str(n) == out["meta"]["value"]
    for pool in ({f"translating:{k}": 3 for k in range(3)},                       # no 3 in the split
                 {"translating:0": 4, "translating:1": 3, "translating:2": 3, "translating:3": 3}):  # uneven
        with pytest.raises(Skip):
            task.render(_count_cand(1), "mc", 0, np.random.default_rng(0), RenderEnv(None, GenerateConfig("scenes", "out"), pool))
