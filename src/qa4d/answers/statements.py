"""Where a reply states its answer: the rules every format's reader shares.

- Reasoning wrapped in `<think>...</think>` is dropped first (an unclosed block runs to the end):
  it mentions every option and every candidate value (`strip_reasoning`).
- A statement of the answer is, in this order of trust: a final-answer phrase ("Therefore, the
  final answer is: X", "The correct answer is X", "my answer would be X"; a connector after the
  keyword is required, so "the answer options are ..." is not one), an `<answer>...</answer>`
  block, a value in backticks (MultiSPA's `value` convention; a unit written just after the
  closing backtick is kept), "Answer: X", and for free text a short quoted value ("move 'left'").
  Within one kind the LAST statement decides (`stated_spans`).
- Texts are compared after `normalize_text` (case, whitespace, surrounding quotes, markup and
  punctuation).

Multiple-choice statements have richer rules of their own (qa4d.answers.choices).
"""

from __future__ import annotations

import re
from typing import Any

# Shortcuts that give what the general reading gives, faster (a statement that is plainly one
# option, a response that is an option's text, word-by-word canonical forms, <think> removal
# without a regular expression). Tests turn them off to check that they agree with the general
# reading (qa4d.answers.choices reads this flag too).
_QUICK = True

_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<answer>\s*(.*?)\s*(?:</answer>|$)", re.IGNORECASE | re.DOTALL)
_BACKTICK_RE = re.compile(r"`+([^`\n]+?)`+")
_FINAL_RE = re.compile(
    r"(?:final\s+answer|correct\s+(?:answer|option|choice)|the\s+answer|my\s+answer|best\s+answer)"
    # a connector is required, so "the answer options are ..." is not a statement of the answer
    r"\s*(?:(?:is|would\s+be|should\s+be|will\s+be)\s*[:：]?|[:：=]|\s-\s)"
    r"\s*(?:option|choice)?\s*(?P<span>[^\n]*)",
    re.IGNORECASE,
)
# a short quoted value, as in MultiSPA's answers ("a noticeable move 'left'"); apostrophes inside
# words ("camera's") are not quotes
_QUOTED_RE = re.compile(r"(?<![A-Za-z0-9])'([^'\n]{1,40})'(?![A-Za-z0-9])|\"([^\"\n]{1,40})\"")
_ANSWER_COLON_RE = re.compile(r"(?<![A-Za-z])answer\s*[:：]\s*(?P<span>[^\n]*)", re.IGNORECASE)


def normalize_text(text: Any) -> str:
    """Lower-case, collapse whitespace, strip surrounding quotes, markup and punctuation."""
    s = str(text).strip().lower()
    s = _SPACES_RE.sub(" ", s)
    return s.strip(" \t\"'`*_.,;:!?()[]{}")


_SPACES_RE = re.compile(r"\s+")


def backtick_spans(body: str) -> list[str]:
    """Backticked values, each with the few characters after it so a unit written outside the
    backticks ("`1.5` m") is still read."""
    out = []
    for m in _BACKTICK_RE.finditer(body):
        tail = re.match(r"[^\n`]{0,12}", body[m.end():]).group(0)
        out.append(m.group(1) + " " + tail)
    return out


def strip_reasoning(text: str) -> str:
    """`text` without its <think>...</think> blocks (an unclosed one runs to the end), stripped."""
    if not text:
        return ""
    if "<" not in text:
        return text.strip()
    low = text.lower()
    if "<think>" not in low:
        return text.strip()
    if len(low) != len(text) or not _QUICK:
        return _THINK_RE.sub(" ", text).strip()
    out, i = [], 0
    while True:
        p = low.find("<think>", i)
        if p == -1:
            out.append(text[i:])
            break
        out.append(text[i:p])
        out.append(" ")
        q = low.find("</think>", p + 7)
        if q == -1:
            break
        i = q + 8
    return "".join(out).strip()


def stated_spans(body: str, backticks_with_tail: bool = True, quoted: bool = False) -> list[tuple[str, list[str]]]:
    """[(rule, spans in text order)] of the statements of the answer in `body`, most trusted kind
    first: final_answer, answer_tag, backtick, answer_colon (and quoted, when asked). A reader
    tries each kind in turn, its spans from the last one back. backticks_with_tail: a backticked
    value keeps the few characters after it (a unit), as numbers and tuples want."""
    backticks = backtick_spans(body) if backticks_with_tail else [m.group(1) for m in _BACKTICK_RE.finditer(body)]
    out = [
        ("final_answer", [m.group("span") for m in _FINAL_RE.finditer(body)]),
        ("answer_tag", [m.group(1) for m in _TAG_RE.finditer(body)]),
        ("backtick", backticks),
        ("answer_colon", [m.group("span") for m in _ANSWER_COLON_RE.finditer(body)]),
    ]
    if quoted:
        out.append(("quoted", [m.group(1) or m.group(2) for m in _QUOTED_RE.finditer(body)]))
    return out


def answer_tags(body: str) -> list[str]:
    """The contents of the `<answer>...</answer>` blocks of `body`, in order."""
    return [m.group(1) for m in _TAG_RE.finditer(body)]
