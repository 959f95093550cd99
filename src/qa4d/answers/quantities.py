"""Quantities in a reply: numbers with units, and bracketed tuples of numbers.

A number may carry a unit after it; it is converted to the unit the item's ground truth is in
(`length`: mm, cm, m, km, in, ft; `angle`: deg, rad; `time`; `speed`). A number without a unit is
taken in the unit the question asks for. Number words ("three") count for zero..twenty. A tuple is
`[x, y, z]` / `(x, y)` (also LaTeX `bmatrix`) of an expected length, optionally followed by a unit.
The number, scalar, vector and coord formats read their values with these.
"""

from __future__ import annotations

import math
import re

from qa4d.answers.base import Extraction
from qa4d.answers.statements import stated_spans, strip_reasoning

# unit -> (dimension, factor to the dimension's base unit: metre or degree)
UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 1e-3), "millimeter": ("length", 1e-3), "millimeters": ("length", 1e-3),
    "millimetre": ("length", 1e-3), "millimetres": ("length", 1e-3),
    "cm": ("length", 1e-2), "centimeter": ("length", 1e-2), "centimeters": ("length", 1e-2),
    "centimetre": ("length", 1e-2), "centimetres": ("length", 1e-2),
    "m": ("length", 1.0), "meter": ("length", 1.0), "meters": ("length", 1.0),
    "metre": ("length", 1.0), "metres": ("length", 1.0),
    "km": ("length", 1e3), "kilometer": ("length", 1e3), "kilometers": ("length", 1e3),
    "kilometre": ("length", 1e3), "kilometres": ("length", 1e3),
    "in": ("length", 0.0254), "inch": ("length", 0.0254), "inches": ("length", 0.0254),
    "ft": ("length", 0.3048), "foot": ("length", 0.3048), "feet": ("length", 0.3048),
    "deg": ("angle", 1.0), "degree": ("angle", 1.0), "degrees": ("angle", 1.0), "°": ("angle", 1.0),
    "rad": ("angle", 180.0 / math.pi), "radian": ("angle", 180.0 / math.pi),
    "radians": ("angle", 180.0 / math.pi),
    "s": ("time", 1.0), "sec": ("time", 1.0), "second": ("time", 1.0), "seconds": ("time", 1.0),
    "ms": ("time", 1e-3),
    "m/s": ("speed", 1.0), "km/h": ("speed", 1 / 3.6), "kmh": ("speed", 1 / 3.6),
    "mph": ("speed", 0.44704),
}

_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}

_NUM = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+"
# Longest unit names first so "mm" is not read as "m", "m/s" not as "m".
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_QUANTITY_RE = re.compile(
    rf"(?<![\w.])(?P<num>{_NUM})\s*(?P<unit>(?:{_UNIT_ALT})(?![A-Za-z]))?", re.IGNORECASE)
_WORD_QTY_RE = re.compile(
    rf"\b(?P<word>{'|'.join(_NUMBER_WORDS)})\b\s*(?P<unit>(?:{_UNIT_ALT})(?![A-Za-z]))?", re.IGNORECASE)


def convert_unit(value: float, unit: str | None, target: str | None) -> float:
    """Convert `value` in `unit` to `target`. Missing or incompatible units leave it as is."""
    if not unit or not target:
        return value
    u, t = UNITS.get(unit.lower()), UNITS.get(target.lower())
    if u is None or t is None or u[0] != t[0]:
        return value
    return value * u[1] / t[1]


def _to_float(s: str) -> float:
    return float(s.replace(",", "").replace("−", "-"))


def _unit_after(m: re.Match, span: str) -> str | None:
    unit = m.group("unit")
    # "in" is a unit only when no word follows ("3 in." yes, "[3, 4] in Image-2" no)
    if unit and unit.lower() == "in" and re.match(r"^\s+[A-Za-z]", span[m.end():]):
        return None
    return unit


def parse_quantity(
    span: str, target_unit: str | None = None, default_unit: str | None = None
) -> list[tuple[float, str | None, str]]:
    """All numbers in `span` as (value in target_unit, unit read, matched text), in order.

    A number without a unit is taken in `default_unit` (the unit the question asked for), or
    in `target_unit` when that is None too.
    """
    out: list[tuple[int, float, str | None, str]] = []
    for m in _QUANTITY_RE.finditer(span):
        unit = _unit_after(m, span)
        val = convert_unit(_to_float(m.group("num")), unit or default_unit, target_unit)
        out.append((m.start(), val, unit, m.group(0).strip()))
    for m in _WORD_QTY_RE.finditer(span):
        unit = _unit_after(m, span)
        val = convert_unit(float(_NUMBER_WORDS[m.group("word").lower()]), unit or default_unit, target_unit)
        out.append((m.start(), val, unit, m.group(0).strip()))
    out.sort(key=lambda t: t[0])
    return [(v, u, s) for _, v, u, s in out]


def leading_number(body: str) -> bool:
    """Whether `body` opens with a number (after markup stars)."""
    return re.match(rf"^\s*\**(?P<q>{_NUM})", body) is not None


# ----------------------------------------------------------------------------- tuples

_TUPLE_RE_CACHE: dict[int, re.Pattern] = {}


def _tuple_re(n: int) -> re.Pattern:
    if n not in _TUPLE_RE_CACHE:
        inner = r"\s*[,;]?\s*".join([rf"({_NUM})"] * n)
        _TUPLE_RE_CACHE[n] = re.compile(
            rf"(?:\\begin\{{[bp]?matrix\}}\s*{inner}\s*\\end\{{[bp]?matrix\}}"
            rf"|[\[\(]\s*{inner}\s*[\]\)])"
            rf"\$?\s*(?P<unit>(?:{_UNIT_ALT})(?![A-Za-z]))?",
            re.IGNORECASE,
        )
    return _TUPLE_RE_CACHE[n]


def _tuples(span: str, n: int, unit: str | None, default_unit: str | None) -> list[tuple[list[float], str]]:
    out = []
    for m in _tuple_re(n).finditer(span):
        nums = [g for g in m.groups()[: 2 * n] if g is not None][:n]
        u = _unit_after(m, span) or default_unit
        out.append(([convert_unit(_to_float(x), u, unit) for x in nums], m.group(0).strip()))
    return out


def extract_tuple(text: str, n: int, unit: str | None = None, default_unit: str | None = None) -> Extraction:
    """A vector (n=3) or a pixel coordinate (n=2): list of n floats in `unit`."""
    body = strip_reasoning(text)
    for rule, spans in stated_spans(body):
        for span in reversed(spans):
            t = _tuples(span, n, unit, default_unit)
            if t:
                return Extraction(t[-1][0], rule, t[-1][1])
    t = _tuples(body, n, unit, default_unit)
    distinct = {tuple(v) for v, _ in t}
    if len(distinct) == 1:
        return Extraction(t[-1][0], "unique_tuple", t[-1][1])
    return Extraction(None, "unparsed", "")

