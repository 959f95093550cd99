"""Blind priors of numeric and one-word answers, scored under the bench's own metric.

A model that never sees the images can still answer a numeric question with a typical value.
For every (family, task) with number / scalar / vector / coord records (meta.value) this fits on
train the median and the mean (component-wise for vectors and coordinates) and scores each on
bench with the metric `qa4d eval` uses (MultiSPA: scalar and vector within 20 % relative L2 error,
coordinates within 5 % of the image width, each record's meta.scale; number: mean relative
accuracy). For free answers it scores the train majority answer by exact match. It also summarises
each group's value distribution (quantiles of the value, or of its norm for vectors). Reported, not
failed: numeric answers have no chance level to test against, the figure says how much a blind
guess gets. Which prior a format gets is one lookup, AUDIT_PRIORS.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from qa4d.answers import get_format



def _values(records: list[dict[str, Any]]) -> np.ndarray:
    return np.array([np.atleast_1d(np.asarray(r["meta"]["value"], dtype=np.float64)) for r in records])


def _score(fmt: str, guess: np.ndarray, gt: np.ndarray, scale: np.ndarray) -> float:
    """Mean score of one constant guess (D,) against gt (N, D) under the format's metric, the one
    `qa4d eval` applies (bench/scoring.py): number -> mean relative accuracy; scalar, vector -> right
    when ||guess - gt|| <= 20% of ||gt||; coord -> right when ||guess - gt|| <= 5% of the image
    width, the width being each record's `meta.scale` (N,) in the coordinates' own units."""
    pred = np.broadcast_to(guess, gt.shape)
    return float(get_format(fmt).score_values(pred, gt, scale).mean())


def distribution(values: np.ndarray) -> dict[str, float]:
    """Quantiles of the values (norms for vectors of 3), for the report."""
    v = np.linalg.norm(values, axis=1) if values.shape[1] == 3 else values[:, 0]
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "p25", "median", "p75", "max"), (round(float(x), 3) for x in q)))


def numeric_priors(train: list[dict[str, Any]], bench: list[dict[str, Any]],
                   tasks: list[tuple[str, str]]) -> dict[str, Any]:
    """{"family/task|format": {"family", "task", "format", "bench", "median": {"guess", "accuracy"},
    "mean": {...}, "distribution"}} for numeric formats (AUDIT_PRIORS); {..., "majority": {"guess",
    "accuracy"}, "answers"} for free answers. `tasks` are (family, task) groups: two families'
    tasks of one name are never pooled. Groups without train or bench records of the format are
    left out."""
    out: dict[str, Any] = {}
    for family, task in tasks:
        tr = [r for r in train if r["family"] == family and r["task"] == task]
        be = [r for r in bench if r["family"] == family and r["task"] == task]
        for fmt in sorted({r["answer_format"] for r in tr + be}):
            tr_f = [r for r in tr if r["answer_format"] == fmt]
            be_f = [r for r in be if r["answer_format"] == fmt]
            prior = AUDIT_PRIORS.get(get_format(fmt).audit_baseline)  # the format's kind of blind prior
            if not tr_f or not be_f or prior is None:
                continue
            out[f"{family}/{task}|{fmt}"] = {"family": family, "task": task, "format": fmt, "bench": len(be_f),
                                             **prior(fmt, tr_f, be_f)}
    return out


def _numeric_prior(fmt: str, tr: list[dict[str, Any]], be: list[dict[str, Any]]) -> dict[str, Any]:
    """Median and mean of the train values (component-wise), each scored on bench."""
    x, y = _values(tr), _values(be)
    scale = np.array([float(r["meta"].get("scale", 1000.0)) for r in be])
    entry: dict[str, Any] = {"distribution": distribution(np.concatenate([x, y]))}
    for name, guess in (("median", np.median(x, axis=0)), ("mean", x.mean(axis=0))):
        entry[name] = {"guess": [round(float(g), 3) for g in guess], "accuracy": _score(fmt, guess, y, scale)}
    return entry


def _free_prior(fmt: str, tr: list[dict[str, Any]], be: list[dict[str, Any]]) -> dict[str, Any]:
    """The train majority answer, scored by exact match on bench."""
    top, _ = Counter(r["answer"] for r in tr).most_common(1)[0]
    return {"answers": len({r["answer"] for r in tr + be}),
            "majority": {"guess": top, "accuracy": float(np.mean([r["answer"] == top for r in be]))}}


# The blind prior of each audit-baseline kind (`AnswerFormat.audit_baseline` in qa4d.answers says
# which kind a format gets; kinds absent here have none: multiple choice and yes/no get the bias
# tests of audit_baselines.FORMAT_BIAS_TESTS, tracks nothing).
AUDIT_PRIORS = {"numeric": _numeric_prior, "majority": _free_prior}


def report_lines(priors: dict[str, Any]) -> list[str]:
    lines = []
    for key, e in priors.items():
        task = key.split("|")[0]  # family/task
        if e["format"] == "free":
            lines.append(f"blind prior {task} (free): majority {e['majority']['guess']!r} -> "
                         f"{100 * e['majority']['accuracy']:.0f}% of {e['bench']} (chance {100 / max(1, e['answers']):.0f}%)")
        else:
            d = e["distribution"]
            lines.append(f"blind prior {task} ({e['format']}): median -> {100 * e['median']['accuracy']:.0f}%, "
                         f"mean -> {100 * e['mean']['accuracy']:.0f}% of {e['bench']}; values {d['min']:g} .. "
                         f"{d['median']:g} .. {d['max']:g}")
    return lines
