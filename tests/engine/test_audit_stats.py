"""The exact tests and the multiple-testing rules of the bias audit, against independent computations:
closed-form binomial sums, brute-force enumeration, scipy, and hand-worked Holm / Tarone examples."""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from qa4d.engine.audit_stats import (BiasTest, critical_hits, decide, detectable_excess, excess_for_power, holm,
                                     holm_adjusted, lower_tail, min_p_value, pooled, tarone, two_sided, upper_tail)


@pytest.mark.parametrize("k,n,p", [(0, 5, 0.25), (3, 3, 0.25), (7, 10, 0.25), (13, 20, 0.5), (40, 300, 0.25), (1, 1, 1 / 3)])
def test_upper_tail_is_the_one_sided_binomial_test(k, n, p):
    ref = stats.binomtest(k, n, p, alternative="greater").pvalue
    assert math.isclose(upper_tail(k, [p] * n), ref, rel_tol=1e-9)
    closed = sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1))
    assert math.isclose(upper_tail(k, [p] * n), closed, rel_tol=1e-9)


def test_poisson_binomial_tails_match_enumeration():
    # mixed chances (a task with 2-, 3- and 4-option items): enumerate all 2^6 outcomes
    ch = [0.5, 1 / 3, 0.25, 0.25, 0.5, 1 / 3]
    law = [0.0] * 7
    for outcome in itertools.product([0, 1], repeat=6):
        law[sum(outcome)] += math.prod(c if o else 1 - c for c, o in zip(ch, outcome))
    for k in range(7):
        assert math.isclose(upper_tail(k, ch), sum(law[k:]), rel_tol=1e-12)
        assert math.isclose(lower_tail(k, ch), sum(law[: k + 1]), rel_tol=1e-12)
        assert math.isclose(two_sided(k, ch), min(1.0, 2 * min(sum(law[k:]), sum(law[: k + 1]))), rel_tol=1e-12)
    assert math.isclose(min_p_value(ch), law[6]) and math.isclose(min_p_value(ch, True), 2 * min(law[6], law[0]))


def test_tails_reject_bad_input():
    with pytest.raises(ValueError):
        upper_tail(4, [0.5] * 3)
    with pytest.raises(ValueError):
        upper_tail(1, [1.5])


def test_holm_on_a_worked_example():
    # m = 4, alpha = 0.05: thresholds 0.0125, 0.0167, 0.025, 0.05 in order of p
    p = [0.04, 0.001, 0.03, 0.012]
    assert holm(p, 0.05) == [False, True, False, True]  # 0.001, 0.012 pass; 0.03 > 0.025 stops
    assert holm([0.01, 0.04, 0.03, 0.02], 0.05) == [True, False, False, False]  # 0.02 > 0.0167 stops
    assert holm([0.011, 0.012, 0.013, 0.014], 0.05) == [True, True, True, True]
    adj = holm_adjusted(p)
    assert adj == pytest.approx([0.06, 0.004, 0.06, 0.036])
    assert [a <= 0.05 for a in adj] == holm(p, 0.05)


def test_tarone_screen_on_a_worked_example():
    # alpha 0.01. K=1: 3 tests reach 0.01 (>1). K=2: reach 0.005 -> 1e-4, 1e-3 (2 <= 2): stop
    assert tarone([1e-4, 1e-3, 0.008, 0.5], 0.01) == [True, True, False, False]
    assert tarone([0.5, 0.6], 0.01) == [False, False]
    assert tarone([1e-9] * 5, 0.01) == [True] * 5


def test_family_wise_error_is_controlled_on_null_data():
    # 200 audits of 60 unbiased baselines each (hits drawn at chance); the share of audits with any
    # failure must stay under alpha (0.05 here, to see it)
    rng = np.random.default_rng(0)
    any_fail = 0
    for _ in range(200):
        tests = []
        for j in range(60):
            n, c = int(rng.integers(3, 200)), [0.5, 1 / 3, 0.25][j % 3]
            tests.append(BiasTest(f"t{j}", "mc", "text", list(rng.random(n) < c), [c] * n))
        any_fail += any(t.significant for t in decide(tests, alpha=0.05, tolerance=0.0))
    assert any_fail / 200 <= 0.05


def test_decide_applies_holm_and_the_effect_size_rule():
    big = 2000
    # 2000 items at 53% vs 50%: very significant, but only 3 points above chance -> not a failure
    small_bias = BiasTest("a", "yesno", "text", [True] * 1060 + [False] * (big - 1060), [0.5] * big)
    # 20 items all right at 25%: significant and far above chance -> failure
    leak = BiasTest("b", "mc", "text", [True] * 20, [0.25] * 20)
    # 3 items all right: p = 1/64, can never pass Holm at 1% -> screened out
    tiny = BiasTest("c", "mc", "text", [True] * 3, [0.25] * 3)
    out = decide([small_bias, leak, tiny, BiasTest("d", "mc", "text", [], [])], alpha=0.01, tolerance=0.05)
    assert [t.task for t in out] == ["a", "b", "c"]
    assert small_bias.significant and not small_bias.failed
    assert leak.significant and leak.failed
    assert not tiny.testable and not tiny.significant and not tiny.failed
    assert leak.adjusted_p == pytest.approx(2 * 0.25 ** 20)  # family of two after the screen


def test_pooled_groups_tasks_and_skips_single_sources():
    a = BiasTest("a", "mc", "text", [True, False], [0.25, 0.25])
    b = BiasTest("b", "mc", "text", [True], [1 / 3])
    w = BiasTest("a", "mc", "word", [True], [0.5], {"word": "red"}, both_sides=True)
    (p,) = pooled([a, b, w])
    assert (p.task, p.baseline, p.hits, p.chances) == ("*", "text", [True, False, True], [0.25, 0.25, 1 / 3])


@pytest.mark.parametrize("n,chance", [(20, 0.5), (50, 0.25), (100, 0.5), (300, 0.25)])
def test_detectable_excess_is_the_binomial_critical_value(n, chance):
    level = 0.01 / 50
    k = critical_hits(n, chance, level)
    assert stats.binomtest(k, n, chance, alternative="greater").pvalue <= level
    assert stats.binomtest(k - 1, n, chance, alternative="greater").pvalue > level
    assert detectable_excess(n, chance, level) == pytest.approx(k / n - chance)
    e = excess_for_power(n, chance, level, 0.8)
    assert stats.binom.sf(k - 1, n, chance + e) == pytest.approx(0.8, abs=1e-6)
    assert e >= detectable_excess(n, chance, level) - 1 / n


def test_too_few_items_detect_nothing():
    assert critical_hits(3, 0.25, 0.01 / 50) is None and detectable_excess(3, 0.25, 1e-4) is None
