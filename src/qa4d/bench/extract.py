"""Answer extraction: raw model text -> `Extraction(value, rule, text)`, by the item's format.

Each answer format reads replies its own way (qa4d.answers: mc.py, yesno.py, number.py, ...; the
shared rules are in statements.py, choices.py and quantities.py, whose docstrings list every rule
in order). Every rule names itself in `Extraction.rule`, so `scored.jsonl` says how each answer was
read.

Nothing here guesses. An unparsable response gives `Extraction(None, "unparsed")`. Only with
`guess=True` (parity with official scorers that pick a random option) does an unparsed answer of
a format with a finite answer set (mc, yes/no: `AnswerFormat.guess_keys`) become a seeded random
one, marked `rule="random_guess"`.
"""

from __future__ import annotations

import numpy as np

from qa4d.answers import get_format
from qa4d.answers.choices import extract_choice, same_option
from qa4d.answers.free import extract_free
from qa4d.answers.number import extract_number
from qa4d.answers.quantities import UNITS, convert_unit, extract_tuple, parse_quantity
from qa4d.answers.statements import normalize_text
from qa4d.answers.track import extract_track
from qa4d.bench.types import BenchItem, Extraction

__all__ = [
    "extract",
    "extract_choice",
    "extract_number",
    "extract_tuple",
    "extract_track",
    "extract_free",
    "normalize_text",
    "same_option",
    "parse_quantity",
    "convert_unit",
    "UNITS",
]


def extract(
    response: str | None,
    item: BenchItem,
    *,
    guess: bool = False,
    rng: np.random.Generator | None = None,
) -> Extraction:
    """Extract the answer to `item` from `response` according to `item.answer_format`.

    guess: when nothing parses, pick a seeded random answer among the format's `guess_keys`
    (mc / yesno), rule="random_guess".
    rng: the generator used for guessing (scoring passes one seeded per run).
    """
    try:
        fmt = get_format(item.answer_format)
    except ValueError:
        raise ValueError(f"item {item.id!r}: unknown answer_format {item.answer_format!r}") from None
    ex = fmt.extract(response or "", item)
    if ex.value is None and guess:
        keys = fmt.guess_keys(item)
        if keys:
            rng = rng if rng is not None else np.random.default_rng(0)
            return Extraction(keys[int(rng.integers(len(keys)))], "random_guess", "")
    return ex
