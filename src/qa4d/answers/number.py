"""number: a number (as text) in `meta["unit"]`, scored by mean relative accuracy (VSI-Bench).

Read: a statement of the answer (final answer, <answer> tag, backticks, "Answer:"), else a reply
that opens with a number (`leading_number`), else the only number in it (`unique_number`). A unit
after the number is converted to the ground truth's unit (`meta["unit"]`); a number without one is
taken in the unit the question asks for (`meta["response_unit"]`, else `meta["unit"]`). Scored:
mean relative accuracy over the thresholds 0.50, 0.55, ..., 0.95 (graded, correct None); chance 0.
Random: log-uniform over 0.1..10 units. Prior: the task's median. Audit: the train median and mean
under the same metric.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, Item
from qa4d.answers.quantities import leading_number, parse_quantity
from qa4d.answers.registry import register_format
from qa4d.answers.statements import stated_spans, strip_reasoning
from qa4d.answers.values import in_unit, num, short, with_unit
from qa4d.bench import metrics as M

_NUMBER_TOKEN = re.compile(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")


def _number_from_span(span: str, unit: str | None, default_unit: str | None) -> tuple[float, str] | None:
    q = parse_quantity(span, unit, default_unit)
    if not q:
        return None
    return q[0][0], q[0][2]


def extract_number(text: str, unit: str | None = None, default_unit: str | None = None) -> Extraction:
    """Scalar extraction, converted to `unit`; a unitless answer is read in `default_unit`."""
    body = strip_reasoning(text)
    for rule, matches in stated_spans(body):
        for span in reversed(matches):
            r = _number_from_span(span, unit, default_unit)
            if r is not None:
                return Extraction(r[0], rule, r[1])
    q = parse_quantity(body, unit, default_unit)
    if q and leading_number(body):
        return Extraction(q[0][0], "leading_number", q[0][2])
    if len(q) == 1:
        return Extraction(q[0][0], "unique_number", q[0][2])
    return Extraction(None, "unparsed", "")


def item_units(item: Item) -> tuple[str | None, str | None]:
    """(unit values are converted to: the ground truth's, unit a bare number is read in: the one
    the question asks for)."""
    unit = item.meta.get("unit")
    return unit, item.meta.get("response_unit") or unit


@register_format("number", order=4)
class Number(AnswerFormat):
    accuracy_style = False
    numeric = True
    has_unit = True
    audit_baseline = "numeric"
    judge_instruction = ("Reply with the single number the response finally gave as its answer (digits only, in {unit}), "
                         "or NONE if it gave none.")

    def bench_fields(self, record, meta):
        return f"{float(meta['value']):g}", None  # scored against meta.value, in meta.unit

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_number(text, *item_units(item))

    def score(self, item, ex):
        mra = float(M.mean_relative_accuracy(np.array([float(ex.value)]), np.array([float(item.answer)]))[0])
        return None, mra, {}

    def score_values(self, pred, gt, width):
        return M.mean_relative_accuracy(pred[:, 0], gt[:, 0])

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        # log-uniform over two decades around 1 unit: a plausible magnitude, no information
        return f"Answer: {with_unit(short(float(10 ** rng.uniform(-1, 1))), item)}"

    def prior_answer(self, stats, item: Item) -> tuple[str, bool]:
        nums, seen = stats.pool(stats.numbers, item.task)
        if nums:
            return short(float(np.median(nums))), seen
        return super().prior_answer(stats, item)

    def prior_reply(self, text: str, item: Item) -> str:
        return f"Answer: {with_unit(text, item)}"

    def oracle_reply(self, item: Item) -> str:
        return f"Answer: {with_unit(item.answer, item)}"

    def obedient_value(self, item: Item, form: Any, frame_size) -> str:
        return num(in_unit(np.array(float(item.answer)), item.meta.get("unit"), form.unit))

    def read_verdict(self, token: str, item: Item) -> Any | None:
        return float(token) if _NUMBER_TOKEN.match(token) else None
