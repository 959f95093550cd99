"""vlm4d "no <object> there" questions name their absent object like the present objects the
task asks about (phase 2, `matched_absent`): the category, size and colour words of a question then
say nothing about whether its object is there, which is what the audit's option-word test and text
baseline look for."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

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


# ------------------------------------------------------------------------------ counting: rank of the answer


def test_count_ranks_are_spread_to_a_uniform_marginal():
    """Answers 0 can only be the smallest option; with a quarter of the answers at each of 0..3
    the only uniform solution puts n at rank n, and with more large counts the ranks of the large
    ones are pushed up until every rank holds a quarter of the questions."""
    from qa4d.engine.families.vlm4d.counting import rank_weights, window

    w = rank_weights({0: 10, 1: 10, 2: 10, 3: 10})
    for n in range(4):
        assert np.allclose(w[n], np.eye(4)[n], atol=0.02)
    counts = {0: 22, 1: 12, 2: 22, 3: 8, 4: 6, 5: 4, 7: 4}   # shaped like the 64-scene demo's
    w = rank_weights(counts)
    marg = sum(counts[n] * w[n] for n in counts)
    assert all(w[n][r] == 0 for n in counts for r in range(4) if r > n)   # no option below 0
    assert marg[0] == pytest.approx(22, abs=0.5)                            # answers 0: rank 0, nothing else
    assert np.allclose(marg[1:], (78 - 22) / 3, atol=0.5)                   # the rest evenly
    assert window(0, 0) == [0, 1, 2, 3] and window(5, 2) == [3, 4, 5, 6]
    # feasible shares: exactly uniform
    counts = {0: 5, 1: 10, 2: 10, 3: 10, 6: 5}
    marg = sum(counts[n] * rank_weights(counts)[n] for n in counts)
    assert np.allclose(marg, 10, atol=1e-2)


def test_zero_counts_are_kept_to_a_quarter():
    from qa4d.engine.families.vlm4d.counting import rank_weights, zero_keep

    assert zero_keep({0: 10, 1: 10, 2: 10, 3: 10}) == 1.0
    counts = {0: 26, 1: 9, 2: 11, 3: 10, 4: 6, 5: 3, 6: 1, 7: 1}   # the 64-scene demo's before the cap
    keep = zero_keep(counts)
    assert keep == pytest.approx(41 / (3 * 26))
    kept = {**counts, 0: keep * 26}
    assert kept[0] / sum(kept.values()) == pytest.approx(0.25)
    marg = sum(kept[n] * rank_weights(kept)[n] for n in kept)
    assert np.allclose(marg / marg.sum(), 0.25, atol=0.005)   # now every rank a quarter
