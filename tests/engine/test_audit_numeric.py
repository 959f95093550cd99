"""The audit's blind priors for numeric and one-word answers, on hand-made records whose scores
follow from the metric by hand."""

from __future__ import annotations

from qa4d.engine.audit_numeric import numeric_priors, report_lines


def rec(task, fmt, value, answer=None, **meta):
    return {"task": task, "answer_format": fmt, "answer": answer if answer is not None else f"`{value}`",
            "meta": {"value": value, **meta}}


def test_priors_score_under_the_multispa_metric():
    train = [rec("d", "scalar", v) for v in (100, 200, 300, 1000)] + \
            [rec("v", "vector", v) for v in ([100, 0, 0], [300, 0, 0])] + \
            [rec("c", "coord", v, scale=1000.0) for v in ([500, 500], [520, 500], [900, 100])] + \
            [rec("w", "free", None, a) for a in ("left", "left", "right")]
    bench = [rec("d", "scalar", 260), rec("d", "scalar", 500),          # median 250: 260 in (|10| <= 52), 500 out
             rec("v", "vector", [200, 30, 0]), rec("v", "vector", [0, 200, 0]),   # median [200, 0, 0]
             rec("c", "coord", [540, 520], scale=1000.0), rec("c", "coord", [600, 500], scale=1000.0),
             rec("w", "free", None, "right"), rec("w", "free", None, "left"), rec("w", "free", None, "left")]
    p = numeric_priors(train, bench, ["d", "v", "c", "w"])
    assert p["d|scalar"]["median"] == {"guess": [250.0], "accuracy": 0.5}
    assert p["d|scalar"]["mean"]["guess"] == [400.0] and p["d|scalar"]["mean"]["accuracy"] == 0.5   # 400 vs 500 in
    assert p["v|vector"]["median"]["accuracy"] == 0.5        # |[0, -30, 0]| = 30 <= 0.2 * 202; |[200, -200, 0]| > 40
    assert p["c|coord"]["median"]["guess"] == [520.0, 500.0]
    assert p["c|coord"]["median"]["accuracy"] == 0.5         # (20, 20): 28.3 <= 50 in; (80, 0) out
    assert p["w|free"]["majority"] == {"guess": "left", "accuracy": 2 / 3} and p["w|free"]["answers"] == 2
    assert p["d|scalar"]["distribution"]["max"] == 1000 and p["d|scalar"]["distribution"]["min"] == 100
    assert len(report_lines(p)) == 4
