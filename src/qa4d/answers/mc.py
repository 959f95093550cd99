"""mc: multiple choice. Options A.. in `options`; the answer is the correct letter.

Read: qa4d.answers.choices (statements of the answer, the reply's shape, the last letter that is
not part of a walk through the options). Scored: correct when the letter read is the answer, or
names an option with the same text; chance 1 / number of options. Random: a uniform letter. Prior:
the task's most frequent answer TEXT that is one of the item's options, else its most frequent
letter. Audit: the correct-letter position, the answer-text prior and option-word text models.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, Item
from qa4d.answers.choices import _as_text, extract_choice, same_option
from qa4d.answers.prior import norm
from qa4d.answers.registry import register_format

_VERDICT_RE = re.compile(r"\(?([A-Za-z])\)?")  # a judge's one-letter verdict, "B" or "(B)"


@register_format("mc", order=0)
class MultipleChoice(AnswerFormat):
    answer_template = False
    audit_baseline = "options"
    judge_instruction = ("Reply with the single letter of the option the response finally chose ({letters}), "
                         "or NONE if it chose no option or several.")

    def check_record(self, record: dict[str, Any]) -> tuple[str, str] | None:
        if record["answer"] not in record["options"]:
            return "answer", f"{record['answer']!r} is not one of the options {sorted(record['options'])}"
        return None

    def bench_fields(self, record, meta):
        return record["answer"], {str(k): str(v) for k, v in record["options"].items()}

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_choice(text, item.options or {})

    def guess_keys(self, item: Item) -> list[str]:
        return list(_as_text(item.options or {}))

    def score(self, item, ex):
        ok = ex.value == item.answer or same_option(item.options or {}, ex.value, item.answer)
        return bool(ok), float(ok), {}

    def chance(self, item: Item) -> float:
        return 1.0 / len(item.options) if item.options else 0.0

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        if not item.options:
            raise ValueError(f"item {item.id}: answer_format 'mc' without options")
        letters = sorted(item.options)
        return f"Answer: {letters[int(rng.integers(len(letters)))]}"

    def observe(self, stats, task: str, record: dict[str, Any]) -> None:
        options = record.get("options") or {}
        answer = str(record["answer"])
        if answer not in options:
            raise ValueError(f"field 'answer' {answer!r} is not one of the options {sorted(options)}")
        stats.texts[task][norm(options[answer])] += 1
        stats.letters[task][answer] += 1

    def prior_answer(self, stats, item: Item) -> tuple[str, bool]:
        texts, seen = stats.pool(stats.texts, item.task)
        options = item.options or {}
        by_text: dict[str, str] = {}
        for letter in sorted(options):
            by_text.setdefault(norm(options[letter]), letter)
        for text in stats.ranked(texts):
            if text in by_text:
                return by_text[text], seen
        # no train answer text is an option here: fall back to the most frequent position
        letters, _ = stats.pool(stats.letters, item.task)
        for letter in stats.ranked(letters):
            if letter in options:
                return letter, seen
        return sorted(options)[0], seen

    def read_verdict(self, token: str, item: Item) -> Any | None:
        m = _VERDICT_RE.fullmatch(token)
        letter = m.group(1).upper() if m else None
        return letter if letter in (item.options or {}) else None
