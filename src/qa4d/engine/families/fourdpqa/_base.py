"""What every 4DP-QA task shares: its family name and the phrasing of labels from vocab.json."""

from __future__ import annotations

from typing import Any

from qa4d.engine.kinds.comparison import CompareTask
from qa4d.engine.kinds.descriptive import DescriptiveTask
from qa4d.engine.kinds.tracking import TrackTask

FAMILY = "4dpqa"


class Descriptive(DescriptiveTask):
    family = FAMILY

    def label_text(self, label: Any, rng=None) -> str:
        from qa4d.engine.families.fourdpqa.labels import describe

        return describe(self.name, label, rng)


class Compare(CompareTask):
    family = FAMILY


class Track(TrackTask):
    family = FAMILY
    category = "point_tracking"
