"""free: free text; the answer is a short text.

Read: a statement of the answer (final answer, <answer> tag, backticks, "Answer:"), else a short
quoted value (`quoted`, MultiSPA's "move 'left'"), else the whole reply (`whole_text`). Scored:
exact match after normalize_text (case, whitespace, surrounding punctuation). Chance: 1/K when
the record names its K possible answers in `meta.choices` (a closed set, e.g. MultiSPA's
'left' or 'right'), else 0 (an open answer). Random: one of `meta.choices` drawn uniformly, else
"unknown". Prior: the task's most frequent answer. Audit: the train majority.
"""

from __future__ import annotations

from typing import Any, Mapping

from qa4d.answers.base import AnswerFormat, Extraction, Item
from qa4d.answers.registry import register_format
from qa4d.answers.statements import normalize_text, stated_spans, strip_reasoning


def extract_free(text: str) -> Extraction:
    body = strip_reasoning(text)
    if not body:
        return Extraction(None, "unparsed", "")
    for rule, spans in stated_spans(body, backticks_with_tail=False, quoted=True):
        for span in reversed(spans):
            v = normalize_text(span)
            if v:
                return Extraction(v, rule, span.strip())
    return Extraction(normalize_text(body), "whole_text", body)


@register_format("free", order=2)
class FreeText(AnswerFormat):
    audit_baseline = "majority"

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_free(text)

    def score(self, item, ex):
        ok = normalize_text(ex.value) == normalize_text(item.answer)
        return ok, float(ok), {}

    def chance(self, item: Item) -> float:
        choices = _choices(item)
        return 1.0 / len(choices) if choices else 0.0

    def random_reply(self, item: Item, rng) -> str:
        choices = _choices(item)
        if not choices:
            return super().random_reply(item, rng)
        return f"Answer: {choices[int(rng.integers(len(choices)))]}"


def closed_choices(meta: Mapping[str, Any] | None) -> list[str]:
    """The distinct answers (by normalize_text) a closed free-text question allows, from a record's
    or item's meta.choices, in their order; [] for an open question."""
    seen: dict[str, str] = {}
    for c in (meta or {}).get("choices") or []:
        seen.setdefault(normalize_text(str(c)), str(c))
    return list(seen.values())


def _choices(item: Item) -> list[str]:
    return closed_choices(getattr(item, "meta", None))
