"""scalar: MultiSPA's number, correct when the relative error is at most 20%.

Read, answered and audited as `number` (qa4d.answers.number); scored 1/0: correct when
|pred - gt| <= 0.2 |gt|. Chance 0.
"""

from __future__ import annotations

import numpy as np

from qa4d.answers.number import Number
from qa4d.answers.registry import register_format
from qa4d.bench import metrics as M


@register_format("scalar", order=5)
class Scalar(Number):
    accuracy_style = True

    def score(self, item, ex):
        ok = bool(M.relative_l2_within(np.array([float(ex.value)]), np.array([float(item.answer)]))[0])
        return ok, float(ok), {}

    def score_values(self, pred, gt, width):
        return M.relative_l2_within(pred, gt).astype(np.float64)
