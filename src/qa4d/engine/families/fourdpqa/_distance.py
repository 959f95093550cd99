"""Shared by the two distance-change tasks (2) and (7): label rule and a measured fourth option.

Their vocabulary has three labels (increasing, decreasing, constant). A four-option multiple
choice (the 4DP-QA-Bench preset, `mc_options`) is completed with a statement about a distance
that turns (first rises then falls, or the reverse), offered only when the measured series shows
it clearly false (labels.distance_turns_clearly_false); the audit checks that again.
"""

from __future__ import annotations

import numpy as np

from qa4d.engine.families.fourdpqa import labels
from qa4d.engine.families.fourdpqa._base import Descriptive


def _series(m) -> np.ndarray:
    """(F,) float64 distances of a measurement dict (None -> NaN)."""
    return np.array([np.nan if v is None else v for v in m["series"]], dtype=np.float64)


class DistanceChangeTask(Descriptive):
    vocabulary = labels.DISTANCE_CHANGE_LABELS
    n_options = 3  # the vocabulary has three labels; a fourth option needs extra_options

    def label(self, m, th):
        return labels.distance_change_label(_series(m), th)

    def extra_fields(self, m, th):
        return {"false_statements": labels.distance_turns_clearly_false(_series(m), th)}

    def extra_options(self, cand):
        return list(cand.get("false_statements", []))

    def check(self, record, scene, thresholds):
        problems = super().check(record, scene, thresholds)
        if record.get("answer_format") != "mc":
            return problems
        turns = [(k, v) for k, v in (record["meta"].get("option_labels") or {}).items()
                 if v in labels.DISTANCE_TURN_STATEMENTS]
        if turns:
            m = self.recompute(record, scene, thresholds)["measurement"]
            false = labels.distance_turns_clearly_false(_series(m), thresholds)
            problems += [f"option {k} ({v!r}) is not clearly false for the measured distances"
                         for k, v in turns if v not in false]
        return problems
