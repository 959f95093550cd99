"""Exact tests of "a blind baseline beats chance", with the family-wise error controlled.

A blind baseline (one that never sees the images) answers n bench items; item i has chance c_i of
being right by luck (1 / number of options; 1/2 for yes/no). When the text carries no information
about the answer, each hit is an independent Bernoulli(c_i) given the train split the baseline was
fitted on, so the number of hits S follows a Poisson-binomial law (a binomial one when all c_i are
equal). `upper_tail(k, chances)` is the exact P(S >= k): the one-sided p-value.

Many baselines are tested at once (tasks x formats x baselines, plus pooled tests), so the p-values
go through Holm's step-down procedure (`holm`), which keeps the chance of failing any test on an
unbiased dataset at most alpha. A test that Holm rejects is a failure only when its accuracy also
exceeds chance by more than the tolerance (the effect-size rule, `decide`): with many items a tiny,
harmless bias is significant, and the tolerance keeps it from failing the audit. With few items
only a large excess can be significant, so the rule then changes nothing.

`detectable_excess(n, chance, level)` is the smallest accuracy above chance that a test of n
items can flag at a per-test level; `excess_for_power` the true bias found with a given power.
Pure Python / NumPy / SciPy; no randomness.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from scipy import stats

ALPHA = 0.01       # family-wise error of the whole audit
TOLERANCE = 0.05   # accuracy above chance that is tolerated (5 points)


def _pmf(chances: Sequence[float]) -> np.ndarray:
    """(n + 1,) float64 law of the number of hits of independent Bernoulli(chances[i]) trials.

    Items are grouped by chance: the binomial law of each group (scipy), convolved together.
    """
    c = np.asarray(chances, dtype=np.float64)
    if c.size and (np.any(c < 0) or np.any(c > 1) or not np.all(np.isfinite(c))):
        raise ValueError(f"chances must lie in [0, 1], got {c[(c < 0) | (c > 1) | ~np.isfinite(c)][:3].tolist()}")
    pmf = np.ones(1)
    for p in np.unique(c):
        m = int(np.sum(c == p))
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(m + 1), m, p))
    return pmf


def upper_tail(hits: int, chances: Sequence[float]) -> float:
    """Exact P(S >= hits), S the number of hits of independent Bernoulli(chances[i]) trials.

    For equal chances this is `scipy.stats.binomtest(hits, n, p, alternative="greater").pvalue`.
    """
    n = len(chances)
    if not 0 <= hits <= n:
        raise ValueError(f"hits must be in [0, {n}], got {hits}")
    if hits == 0:
        return 1.0
    pmf = _pmf(chances)
    return float(min(1.0, np.sum(pmf[hits:])))


def lower_tail(hits: int, chances: Sequence[float]) -> float:
    """Exact P(S <= hits)."""
    n = len(chances)
    if not 0 <= hits <= n:
        raise ValueError(f"hits must be in [0, {n}], got {hits}")
    return float(min(1.0, np.sum(_pmf(chances)[: hits + 1])))


def two_sided(hits: int, chances: Sequence[float]) -> float:
    """Two-sided p-value: twice the smaller tail, at most 1 (a valid, slightly conservative test)."""
    return min(1.0, 2 * min(upper_tail(hits, chances), lower_tail(hits, chances)))


def min_p_value(chances: Sequence[float], both_sides: bool = False) -> float:
    """The smallest p-value these items can give: all right (the product of the chances) or, for a
    two-sided test, all right or all wrong, doubled. It depends only on the design, never on the
    answers, so it may choose which tests are worth running (`tarone`)."""
    c = np.asarray(chances, dtype=np.float64)
    if not c.size:
        return 1.0
    if both_sides:
        return float(min(1.0, 2 * min(np.prod(c), np.prod(1 - c))))
    return float(np.prod(c))


def tarone(min_p: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Tarone's screen: which tests could ever be significant. K is the smallest count such that at
    most K tests reach a p-value <= alpha / K; those tests form the family, the others are never
    rejected (Tarone 1990). The screen uses the designs only (`min_p_value`), not the answers, so
    Holm over the screened family still bounds the family-wise error by alpha."""
    m = len(min_p)
    if m == 0:
        return []
    ordered = np.sort(np.asarray(min_p, dtype=np.float64))
    ks = np.arange(1, m + 1)
    reach = np.searchsorted(ordered, alpha / ks, side="right")  # tests with min p <= alpha / k
    k = int(ks[np.argmax(reach <= ks)])  # reach(m) <= m always holds, so argmax finds the first
    return [p <= alpha / k for p in min_p]


def holm(p_values: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise error `alpha`.

    Sorted ascending, p_(j) (j = 1..m) is rejected while p_(j) <= alpha / (m - j + 1); the first
    that is not stops the procedure. Ties keep their input order.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out = [False] * m
    for j, i in enumerate(order):
        if p_values[i] > alpha / (m - j):
            break
        out[i] = True
    return out


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: rejected at level alpha exactly when adjusted <= alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i], i))
    out = [1.0] * m
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p_values[i]))
        out[i] = running
    return out


def critical_hits(n: int, chance: float, level: float) -> int | None:
    """Smallest k with P(Binomial(n, chance) >= k) <= level, None when even k = n is not enough."""
    if n <= 0 or chance ** n > level:
        return None
    sf = stats.binom.sf(np.arange(n + 1) - 1, n, chance)  # sf[k] = P(X >= k)
    return int(np.argmax(sf <= level))


def detectable_excess(n: int, chance: float, level: float) -> float | None:
    """Smallest observed accuracy minus chance that n items flag at per-test `level` (None: none)."""
    k = critical_hits(n, chance, level)
    return None if k is None else k / n - chance


def excess_for_power(n: int, chance: float, level: float, power: float = 0.8) -> float | None:
    """Smallest true accuracy minus chance found (p <= level) with probability >= `power`."""
    k = critical_hits(n, chance, level)
    if k is None:
        return None
    lo, hi = chance, 1.0
    if stats.binom.sf(k - 1, n, hi) < power:
        return None
    for _ in range(60):  # bisection on the true accuracy; P(X >= k) rises with it
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if stats.binom.sf(k - 1, n, mid) < power else (lo, mid)
    return hi - chance


@dataclass
class BiasTest:
    """One blind baseline scored on one group of bench items: a (family, task) and format, all tasks
    of one family (task "*"), or all tasks of all families (family "", task "*")."""

    task: str                 # task name, or "*" for a pooled test
    answer_format: str        # "mc", "yesno", or "free" (closed answer sets)
    baseline: str             # "position", "prior", "text", "numeric_rank"; "word", "rank" (not fitted)
    hits: list[bool]          # per bench item: did the baseline pick the right answer
    chances: list[float]      # per bench item: chance of a right answer by luck
    details: dict[str, Any] = field(default_factory=dict)  # what the baseline learnt (report only)
    p_value: float = 1.0
    adjusted_p: float = 1.0
    both_sides: bool = False  # two-sided test (a word test: too often or too rarely right is a bias)
    testable: bool = True     # kept by Tarone's screen
    significant: bool = False
    failed: bool = False
    family: str = ""          # the task's family ("" for a test pooled over every family)
    accepted: bool = False    # a shortcut the family accepts by design: reported, never failed

    @property
    def key(self) -> tuple[str, str]:
        """(family, task): the group the test is about."""
        return (self.family, self.task)

    @property
    def name(self) -> str:
        """'family/task', 'family (all tasks pooled)' or 'all tasks pooled' (printed in reports)."""
        if self.task != "*":
            return f"{self.family}/{self.task}" if self.family else self.task
        return f"{self.family} (all tasks pooled)" if self.family else "all tasks pooled"

    @property
    def n(self) -> int:
        return len(self.hits)

    @property
    def accuracy(self) -> float:
        return sum(self.hits) / self.n if self.n else 0.0

    @property
    def chance(self) -> float:
        return float(np.mean(self.chances)) if self.n else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"family": self.family, "task": self.task, "name": self.name, "format": self.answer_format, "baseline": self.baseline, "n": self.n,
                "hits": int(sum(self.hits)), "accuracy": round(self.accuracy, 4), "chance": round(self.chance, 4),
                "p_value": _sig(self.p_value), "holm_p": _sig(self.adjusted_p),
                "min_p_value": _sig(min_p_value(self.chances, self.both_sides)), "testable": self.testable,
                "significant": self.significant, "accepted": self.accepted,
                "failed": self.failed, **self.details}


def _sig(p: float) -> float:
    return float(f"{p:.4g}")


def decide(tests: list[BiasTest], alpha: float = ALPHA, tolerance: float = TOLERANCE) -> list[BiasTest]:
    """Fill p-values, the family (Tarone's screen), Holm decisions and the failure verdicts.

    All `tests` but the accepted ones form one family: Holm at `alpha` over those that pass the
    screen. A significant test fails when its accuracy is more than `tolerance` above chance (or,
    two-sided, away from it). An accepted test (a shortcut its family declares by design) gets its
    raw p-value, stays out of the family (it is not a hypothesis under test) and never fails.
    Returns the tests with at least one item, in input order."""
    tests = [t for t in tests if t.n]
    for t in tests:
        hits = int(sum(t.hits))
        t.p_value = two_sided(hits, t.chances) if t.both_sides else upper_tail(hits, t.chances)
    for t in tests:
        if t.accepted:
            t.testable, t.adjusted_p, t.significant, t.failed = False, 1.0, False, False
    everything, tests = tests, [t for t in tests if not t.accepted]
    screen = tarone([min_p_value(t.chances, t.both_sides) for t in tests], alpha)
    family = [t for t, keep in zip(tests, screen) if keep]
    for t, keep in zip(tests, screen):
        t.testable = keep
        t.adjusted_p, t.significant, t.failed = 1.0, False, False
    pv = [t.p_value for t in family]
    for t, r, adj in zip(family, holm(pv, alpha), holm_adjusted(pv)):
        effect = abs(t.accuracy - t.chance) if t.both_sides else t.accuracy - t.chance
        t.adjusted_p, t.significant = adj, r
        t.failed = r and effect > tolerance + 1e-12
    return everything


def pooled(tests: list[BiasTest]) -> list[BiasTest]:
    """One test per (format, baseline, and the word or rank of a test without fitting): the items of
    every (family, task) together. A group
    made of a single task's test would repeat it, and is left out; accepted tests are not pooled (a
    shortcut one family accepts must not fail the pool)."""
    groups: dict[tuple[str, str, str], BiasTest] = {}
    sources: Counter[tuple[str, str, str]] = Counter()
    for t in tests:
        if t.accepted or t.task == "*":
            continue
        what = {k: t.details[k] for k in ("word", "rank", "options") if k in t.details and t.baseline in ("word", "rank")}
        key = (t.answer_format, t.baseline, repr(sorted(what.items())))
        sources[key] += t.n > 0
        if key not in groups:
            groups[key] = BiasTest("*", t.answer_format, t.baseline, [], [], dict(what), both_sides=t.both_sides)
        groups[key].hits += t.hits
        groups[key].chances += t.chances
    return [groups[k] for k in sorted(groups) if sources[k] > 1]


def resolving_size(chance: float, level: float, tolerance: float = TOLERANCE, n_max: int = 100_000) -> int | None:
    """Smallest n at which an observed excess of `tolerance` over chance is significant at `level`."""
    lo, hi = 1, 1
    while hi <= n_max:
        e = detectable_excess(hi, chance, level)
        if e is not None and e <= tolerance + 1e-12:
            break
        lo, hi = hi, hi * 2
    else:
        return None
    while lo < hi:  # detectable_excess is not monotone in n step by step; bisection finds one crossing
        mid = (lo + hi) // 2
        e = detectable_excess(mid, chance, level)
        lo, hi = (lo, mid) if e is not None and e <= tolerance + 1e-12 else (mid + 1, hi)
    return hi


def format_p(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


__all__ = ["ALPHA", "TOLERANCE", "BiasTest", "critical_hits", "decide", "detectable_excess", "excess_for_power",
           "format_p", "holm", "holm_adjusted", "lower_tail", "min_p_value", "pooled", "resolving_size", "tarone", "two_sided", "upper_tail"]
