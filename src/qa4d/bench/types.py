"""The shapes every part of the evaluation harness agrees on.

    loaders (benchmarks/)  ->  list[BenchItem]
    models (models/)       ->  raw response text per item
    extraction + metrics   ->  ScoredItem per item, metrics.json per run
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qa4d.answers.base import Extraction  # what the answer parser made of a response

__all__ = ["BenchItem", "Extraction", "ScoredItem"]


@dataclass
class BenchItem:
    """One benchmark question, whatever benchmark it came from."""

    id: str                                # the benchmark's own id (unique within a load)
    benchmark: str                         # registry name, e.g. "vlm4d"
    task: str                              # finest task name the benchmark reports
    question: str                          # question text as published (no options appended)
    answer: str                            # ground truth in the answer_format's canonical text
    answer_format: str = "mc"              # a registered answer format (qa4d.answers: mc, yesno, free, ...)
    options: dict[str, str] | None = None  # {"A": "...", ...} for mc
    category: str | None = None            # coarser grouping if the benchmark has one
    media: list[str] = field(default_factory=list)  # video or image paths (relative to media root)
    media_kind: str = "images"             # "images" or "video"
    # images shown before the sampled frames, all of them, in order, never subsampled (R4D-Bench's
    # Set-of-Marks image); paths relative to the media root like `media`
    prefix_images: list[str] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # extra report groupings, e.g. {"split": "real"}
    meta: dict[str, Any] = field(default_factory=dict)    # anything else (time window, fps, units ...)


@dataclass
class ScoredItem:
    id: str
    task: str
    correct: bool | None              # for accuracy-style formats
    score: float                      # the item's contribution to its metric (1/0 for accuracy)
    extracted: Any | None
    rule: str
    answer: str
    groups: dict[str, str] = field(default_factory=dict)
    error: str | None = None          # model error recorded instead of a response
    judged: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. TAP-Vid sub-metrics
