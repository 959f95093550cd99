"""The audit's blind priors for numeric and one-word answers, on hand-made records whose scores
follow from the metric by hand."""

from __future__ import annotations

from qa4d.engine.audit_numeric import numeric_priors, report_lines


def rec(task, fmt, value, answer=None, family="fam", **meta):
    return {"family": family, "task": task, "answer_format": fmt, "answer": answer if answer is not None else f"`{value}`",
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
    p = numeric_priors(train, bench, [("fam", t) for t in ("d", "v", "c", "w")])
    assert set(p) == {"fam/d|scalar", "fam/v|vector", "fam/c|coord", "fam/w|free"}
    assert p["fam/d|scalar"]["median"] == {"guess": [250.0], "accuracy": 0.5}
    assert p["fam/d|scalar"]["mean"]["guess"] == [400.0] and p["fam/d|scalar"]["mean"]["accuracy"] == 0.5   # 400 vs 500 in
    assert p["fam/v|vector"]["median"]["accuracy"] == 0.5     # |[0, -30, 0]| = 30 <= 0.2 * 202; |[200, -200, 0]| > 40
    assert p["fam/c|coord"]["median"]["guess"] == [520.0, 500.0]
    assert p["fam/c|coord"]["median"]["accuracy"] == 0.5      # (20, 20): 28.3 <= 50 in; (80, 0) out
    assert p["fam/w|free"]["majority"] == {"guess": "left", "accuracy": 2 / 3} and p["fam/w|free"]["answers"] == 2
    assert p["fam/d|scalar"]["distribution"]["max"] == 1000 and p["fam/d|scalar"]["distribution"]["min"] == 100
    lines = report_lines(p)
    assert len(lines) == 4 and lines[0].startswith("blind prior fam/d (scalar): median -> 50%")


def test_the_coordinate_rule_uses_each_records_own_width():
    # guess [0, 0] (the train median); both bench points are 40 units away: within 5% of a width
    # of 1000 (50), not of a width of 600 (30)
    train = [rec("c", "coord", [0, 0], scale=1000.0) for _ in range(3)]
    bench = [rec("c", "coord", [40, 0], scale=1000.0), rec("c", "coord", [0, 40], scale=600.0)]
    p = numeric_priors(train, bench, [("fam", "c")])
    assert p["fam/c|coord"]["median"]["accuracy"] == 0.5


def test_two_families_sharing_a_task_name_are_not_pooled():
    # family a answers 10 every time, family b 1000: pooled, the median (a mix) would score 0 on
    # both; per family, each median scores 100% of its own bench
    train = [rec("size", "scalar", 10, family="a") for _ in range(3)] + [rec("size", "scalar", 1000, family="b") for _ in range(4)]
    bench = [rec("size", "scalar", 11, family="a"), rec("size", "scalar", 950, family="b")]
    p = numeric_priors(train, bench, [("a", "size"), ("b", "size")])
    assert p["a/size|scalar"]["median"] == {"guess": [10.0], "accuracy": 1.0}
    assert p["b/size|scalar"]["median"] == {"guess": [1000.0], "accuracy": 1.0}
    assert p["a/size|scalar"]["family"] == "a" and p["b/size|scalar"]["bench"] == 1


def test_number_answers_score_mean_relative_accuracy():
    # guess 100 against 110: relative error 0.0909 < 1 - theta for theta in 0.50 .. 0.90 (9 of 10)
    train = [rec("n", "number", 100) for _ in range(3)]
    p = numeric_priors(train, [rec("n", "number", 110)], [("fam", "n")])
    assert abs(p["fam/n|number"]["median"]["accuracy"] - 0.9) < 1e-12
