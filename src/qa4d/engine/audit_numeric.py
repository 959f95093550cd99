"""Blind priors of numeric and one-word answers, scored under the bench's own metric.

A model that never sees the images can still answer a numeric question with a typical value.
For every task with number / scalar / vector / coord records (meta.value) this fits on train the
per-task median and the mean (component-wise for vectors and coordinates) and scores each on
bench with the metric `qa4d eval` uses (MultiSPA: scalar and vector within 20 % relative L2 error,
coordinates within 5 % of the image width; number: mean relative accuracy). For free answers it
scores the train majority answer by exact match. It also summarises each task's value
distribution (quantiles of the value, or of its norm for vectors). Reported, not failed: numeric
answers have no chance level to test against, the figure says how much a blind guess gets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from qa4d.answers import get_format



def _values(records: list[dict[str, Any]]) -> np.ndarray:
    return np.array([np.atleast_1d(np.asarray(r["meta"]["value"], dtype=np.float64)) for r in records])


def _score(fmt: str, guess: np.ndarray, gt: np.ndarray, scale: float) -> float:
    """Mean score of one constant guess (D,) against gt (N, D) under the format's metric."""
    pred = np.broadcast_to(guess, gt.shape)
    return float(get_format(fmt).score_values(pred, gt, np.full(len(gt), scale)).mean())


def distribution(values: np.ndarray) -> dict[str, float]:
    """Quantiles of the values (norms for vectors of 3), for the report."""
    v = np.linalg.norm(values, axis=1) if values.shape[1] == 3 else values[:, 0]
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
    return dict(zip(("min", "p25", "median", "p75", "max"), (round(float(x), 3) for x in q)))


def numeric_priors(train: list[dict[str, Any]], bench: list[dict[str, Any]], tasks: list[str]) -> dict[str, Any]:
    """{task: {"format", "bench", "median": {"guess", "accuracy"}, "mean": {...}, "distribution"}}
    for numeric tasks; {"format": "free", "majority": {"guess", "accuracy"}} for free answers.
    Tasks without train or bench records of the format are left out."""
    out: dict[str, Any] = {}
    for task in tasks:
        tr = [r for r in train if r["task"] == task]
        be = [r for r in bench if r["task"] == task]
        for fmt in sorted({r["answer_format"] for r in tr + be}):
            tr_f = [r for r in tr if r["answer_format"] == fmt]
            be_f = [r for r in be if r["answer_format"] == fmt]
            if not tr_f or not be_f:
                continue
            baseline = get_format(fmt).audit_baseline  # which blind prior the format gets
            if baseline == "numeric":
                x, y = _values(tr_f), _values(be_f)
                scale = float(be_f[0]["meta"].get("scale", 1000.0))
                entry = {"format": fmt, "bench": len(be_f), "distribution": distribution(np.concatenate([x, y]))}
                for name, guess in (("median", np.median(x, axis=0)), ("mean", x.mean(axis=0))):
                    entry[name] = {"guess": [round(float(g), 3) for g in guess], "accuracy": _score(fmt, guess, y, scale)}
                out[f"{task}|{fmt}"] = entry
            elif baseline == "majority":
                top, _ = Counter(r["answer"] for r in tr_f).most_common(1)[0]
                acc = float(np.mean([r["answer"] == top for r in be_f]))
                n_answers = len({r["answer"] for r in tr_f + be_f})
                out[f"{task}|{fmt}"] = {"format": fmt, "bench": len(be_f), "answers": n_answers,
                                        "majority": {"guess": top, "accuracy": acc}}
    return out


def report_lines(priors: dict[str, Any]) -> list[str]:
    lines = []
    for key, e in priors.items():
        task = key.split("|")[0]
        if e["format"] == "free":
            lines.append(f"blind prior {task} (free): majority {e['majority']['guess']!r} -> "
                         f"{100 * e['majority']['accuracy']:.0f}% of {e['bench']} (chance {100 / max(1, e['answers']):.0f}%)")
        else:
            d = e["distribution"]
            lines.append(f"blind prior {task} ({e['format']}): median -> {100 * e['median']['accuracy']:.0f}%, "
                         f"mean -> {100 * e['mean']['accuracy']:.0f}% of {e['bench']}; values {d['min']:g} .. "
                         f"{d['median']:g} .. {d['max']:g}")
    return lines
