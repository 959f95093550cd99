"""yesno: the answer is "yes" or "no".

Read: the option matching of qa4d.answers.choices with the labels "yes" and "no" (no letters; a
reply opening with the word counts, `leading_word`). Scored: exact match, case-insensitive; chance
1/2. Random: yes or no with equal odds. Prior: the task's majority. Audit: the majority and a text
model over the question's words.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, Item
from qa4d.answers.choices import extract_choice
from qa4d.answers.registry import register_format

_LABELS = {"yes": "yes", "no": "no"}


@register_format("yesno", order=1)
class YesNo(AnswerFormat):
    answer_template = False
    audit_baseline = "yesno"
    judge_instruction = "Reply with yes or no, whichever the response finally answered, or NONE if it did not commit."

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_choice(text, _LABELS, letters=False)

    def guess_keys(self, item: Item) -> list[str]:
        return ["yes", "no"]

    def score(self, item, ex):
        ok = str(ex.value).lower() == item.answer.strip().lower()
        return ok, float(ok), {}

    def chance(self, item: Item) -> float:
        return 0.5

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        return f"Answer: {'yes' if rng.random() < 0.5 else 'no'}"

    def prior_answer(self, stats, item: Item) -> tuple[str, bool]:
        texts, seen = stats.pool(stats.texts, item.task)
        yn = Counter({k: v for k, v in texts.items() if k in ("yes", "no")})
        return (stats.ranked(yn)[0] if yn else "yes"), seen

    def read_verdict(self, token: str, item: Item) -> Any | None:
        low = token.lower()
        return low if low in ("yes", "no") else None
