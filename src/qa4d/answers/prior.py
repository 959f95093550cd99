"""Per-task answer statistics of a train split: what the blind `prior` baseline answers from.

Each format counts its train records in (`AnswerFormat.observe`) and picks its answer from the
counts (`AnswerFormat.prior_answer`); this class only holds the counts and ranks them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any


def norm(text: str) -> str:
    """Answer text as the prior compares it: case-folded, single spaces, no final period."""
    return re.sub(r"\s+", " ", str(text).strip().casefold()).rstrip(".")


def first_number(text: str) -> float | None:
    m = re.search(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", str(text))
    return float(m.group()) if m else None


class AnswerStats:
    """Per-task counters of answer texts, option letters and numeric answers."""

    def __init__(self) -> None:
        self.texts: dict[str, Counter] = defaultdict(Counter)     # task -> answer text counts
        self.letters: dict[str, Counter] = defaultdict(Counter)   # task -> answer letter counts (mc)
        self.numbers: dict[str, list[float]] = defaultdict(list)  # task -> numeric answers

    def observe_text(self, task: str, answer: str) -> None:
        """Count an answer text, and its number if it holds one."""
        self.texts[task][norm(answer)] += 1
        v = first_number(answer)
        if v is not None:
            self.numbers[task].append(v)

    @staticmethod
    def ranked(counter: Counter) -> list[str]:
        """Keys, most frequent first; ties broken by text so the prior is deterministic."""
        return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]

    @staticmethod
    def pool(table: dict, task: str) -> tuple[Any, bool]:
        """The task's statistics and True, or all tasks pooled and False when the task never
        occurs in train."""
        if task in table and table[task]:
            return table[task], True
        if table is None or not table:
            return Counter(), False
        first = next(iter(table.values()))
        if isinstance(first, Counter):
            pooled: Counter = Counter()
            for c in table.values():
                pooled.update(c)
            return pooled, False
        return [v for vs in table.values() for v in vs], False
