"""vector: MultiSPA's displacement [x, y, z] in `meta["unit"]`, correct within 20% relative L2 error.

Read: a bracketed tuple of `meta["dim"]` (3) numbers in a statement of the answer, else the only
such tuple in the reply (qa4d.answers.quantities.extract_tuple); a unit after it is converted.
Scored 1/0: correct when ||pred - gt|| <= 0.2 ||gt|| (a tuple of another length scores 0); chance 0.
Random: uniform components in [-2, 2]. Prior: the task's most frequent answer text. Audit: the
component-wise train median and mean under the same metric.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, Item, json_list
from qa4d.answers.number import item_units
from qa4d.answers.quantities import extract_tuple
from qa4d.answers.registry import register_format
from qa4d.answers.values import in_unit, num, short
from qa4d.bench import metrics as M


@register_format("vector", order=6)
class Vector(AnswerFormat):
    numeric = True
    has_unit = True
    audit_baseline = "numeric"

    def bench_fields(self, record, meta):
        return json.dumps([float(v) for v in meta["value"]]), None

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_tuple(text, int(item.meta.get("dim", 3)), *item_units(item))

    def score(self, item, ex):
        gt = np.asarray(json.loads(item.answer), dtype=np.float64)
        pred = np.asarray(ex.value, dtype=np.float64)
        if pred.shape != gt.shape:
            return False, 0.0, {"shape_mismatch": [list(pred.shape), list(gt.shape)]}
        ok = bool(M.relative_l2_within(pred[None], gt[None])[0])
        return ok, float(ok), {"l2_error": float(np.linalg.norm(pred - gt))}

    def score_values(self, pred, gt, width):
        return M.relative_l2_within(pred, gt).astype(np.float64)

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        gt = json_list(item.answer)
        dim = int(item.meta.get("dim") or (len(gt) if isinstance(gt, list) and gt else 3))
        return "Answer: [" + ", ".join(short(float(v)) for v in rng.uniform(-2, 2, dim)) + "]"

    def obedient_value(self, item: Item, form: Any, frame_size) -> str:
        v = in_unit(np.asarray(json.loads(item.answer), dtype=np.float64), item.meta.get("unit"), form.unit)
        return "[" + ", ".join(num(x) for x in v) + "]"
