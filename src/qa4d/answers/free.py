"""free: free text; the answer is a short text.

Read: a statement of the answer (final answer, <answer> tag, backticks, "Answer:"), else a short
quoted value (`quoted`, MultiSPA's "move 'left'"), else the whole reply (`whole_text`). Scored:
exact match after normalize_text (case, whitespace, surrounding punctuation); chance 0 (an open
answer). Random: "unknown". Prior: the task's most frequent answer. Audit: the train majority.
"""

from __future__ import annotations

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
