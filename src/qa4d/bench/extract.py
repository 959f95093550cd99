"""Answer extraction: raw model text -> `Extraction(value, rule, text)`.

Rules are tried in a fixed, documented order and the first one that yields a value wins. Every
rule names itself in `Extraction.rule`, so `scored.jsonl` says how each answer was read.

Multiple choice (`mc`, options A..; `yesno` uses the labels "yes"/"no" the same way):

    1. final_answer   an explicit final-answer statement ("Therefore, the final answer is: C",
                      "The correct answer is (B)", "final answer: left"); the LAST such statement
    2. answer_tag     an `<answer>...</answer>` block (the last one)
    3. leading_letter the response opens with an option letter ("C", "(C)", "C.", "**C**: left")
    4. answer_colon   "Answer: C" anywhere (the last one)
    5. option_text    exactly one option's text occurs in the response (longest texts first, so
                      "not moving" is not also read as "moving")
    6. last_letter    the last standalone option letter ("... so B.")

    For yes/no, rule 3 is `leading_word` (the response opens with "yes" or "no") and rule 6 is
    skipped. A statement found by rules 1, 2 and 4 may name the option by its text.
    Reasoning wrapped in `<think>...</think>` is dropped first: it mentions every option.

Numbers (`number`, `scalar`): final_answer, answer_tag, backtick (MultiSPA's `value` convention),
answer_colon, leading_number, unique_number (the response holds exactly one number). A unit after
the number is converted to the item's unit (`length`: mm, cm, m, km, in, ft; `angle`: deg, rad);
a number without a unit is taken in the unit the question asks for (`meta["response_unit"]`,
else the ground truth's `meta["unit"]`). Number words ("three") count for zero..twenty.

Vectors and pixel coordinates (`vector`, `coord`): a bracketed tuple `[x, y, z]` / `(x, y)` (also
LaTeX `bmatrix`) of the expected length inside, in order, a final-answer statement, an answer tag,
backticks, "Answer:", else the only such tuple in the text. A unit after the tuple is converted.

Point tracks (`track`): a JSON list of `{"frame", "x", "y", "visible"}` objects (fenced or bare),
else lines in the style `frame 3: (120.5, 88) visible` / `frame 4: occluded`.

Free text (`free`): final_answer, answer_tag, backtick, answer_colon, a short quoted value
(`quoted`, MultiSPA's "move 'left'"), else the whole text (`whole_text`). Comparison normalises
case, whitespace and surrounding punctuation.

Nothing here guesses. An unparsable response gives `Extraction(None, "unparsed")`. Only with
`guess=True` (parity with official scorers that pick a random option) does an unparsed multiple-
choice answer become a seeded random option, marked `rule="random_guess"`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from qa4d.bench.types import BenchItem, Extraction

__all__ = [
    "extract",
    "extract_choice",
    "extract_number",
    "extract_tuple",
    "extract_track",
    "extract_free",
    "normalize_text",
    "parse_quantity",
    "convert_unit",
    "UNITS",
]

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
    s = re.sub(r"\s+", " ", s)
    return s.strip(" \t\"'`*_.,;:!?()[]{}")


def _backtick_spans(body: str) -> list[str]:
    """Backticked values, each with the few characters after it so a unit written outside the
    backticks ("`1.5` m") is still read."""
    out = []
    for m in _BACKTICK_RE.finditer(body):
        tail = re.match(r"[^\n`]{0,12}", body[m.end():]).group(0)
        out.append(m.group(1) + " " + tail)
    return out


def _strip_reasoning(text: str) -> str:
    return _THINK_RE.sub(" ", text or "").strip()


def _last(pattern: re.Pattern, text: str) -> re.Match | None:
    found = None
    for found in pattern.finditer(text):
        pass
    return found


# ----------------------------------------------------------------------------- choices

def _letter_pattern(labels: list[str]) -> str:
    return "|".join(re.escape(x) for x in labels)


def _choice_in_span(span: str, options: dict[str, str], letters: bool) -> str | None:
    """Read one option out of a short span that is known to state the answer."""
    span = span.strip()
    if not span:
        return None
    keys = list(options)
    if letters:
        pat = _letter_pattern(keys)
        # "C", "(C)", "**C**", "C.", "C: left", "Option C", "$C$"
        m = re.match(rf"^[\s\*\(\[\{{'\"$`]*(?:option|choice)?\s*[\(\[]?(?P<l>{pat})(?![A-Za-z0-9])", span,
                     re.IGNORECASE if all(len(k) == 1 for k in keys) else 0)
        if m:
            letter = m.group("l").upper()
            # An article "A" starting a sentence ("A car moves left") is not a letter unless the
            # text after it is option A's own text.
            rest = span[m.end():]
            if not (letter == "A" and m.group("l") == "a") and not _is_article(letter, rest, options):
                return letter if letter in options else None
    return _unique_option_text(span, options)


def _is_article(letter: str, rest: str, options: dict[str, str]) -> bool:
    if letter != "A" or not re.match(r"^\s+[a-z]", rest):
        return False
    return not normalize_text(rest).startswith(normalize_text(options.get("A", "\0")))


def _unique_option_text(text: str, options: dict[str, str]) -> str | None:
    """The option whose text occurs in `text`, if exactly one distinct text does."""
    low = " " + re.sub(r"\s+", " ", text.lower()) + " "
    by_text: dict[str, list[str]] = {}
    for k, v in options.items():
        by_text.setdefault(normalize_text(v), []).append(k)
    found: list[str] = []
    # Longest first; blank out each match so "moving" inside "not moving" is not counted again.
    for t in sorted(by_text, key=len, reverse=True):
        if not t:
            continue
        pat = re.compile(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])")
        if pat.search(low):
            found.append(t)
            low = pat.sub(" ", low)
    if len(found) == 1:
        return by_text[found[0]][0]
    return None


def extract_choice(text: str, options: dict[str, str], *, letters: bool = True) -> Extraction:
    """Multiple-choice extraction (rules 1-6 in the module docstring).

    options: {"A": "left", ...}; for yes/no pass {"yes": "yes", "no": "no"} and letters=False.
    Returns the option key (letter, or "yes"/"no") or an unparsed Extraction.
    """
    body = _strip_reasoning(text)
    if not body:
        return Extraction(None, "unparsed", "")
    keys = list(options)
    # 1. explicit final-answer statement (last one wins: reasoning may restate the question)
    finals = list(_FINAL_RE.finditer(body))
    for m in reversed(finals):
        v = _choice_in_span(m.group("span"), options, letters)
        if v is not None:
            return Extraction(v, "final_answer", m.group(0).strip())
    # 2. <answer> block
    tags = list(_TAG_RE.finditer(body))
    for m in reversed(tags):
        v = _choice_in_span(m.group(1), options, letters)
        if v is not None:
            return Extraction(v, "answer_tag", m.group(0).strip())
    if letters:
        # 3. leading option letter
        pat = _letter_pattern(keys)
        m = re.match(rf"^[\s\*\(\[]*(?P<l>{pat})[\*\)\]]*(?P<after>[\.\):：,]|\s|$)", body)
        if m and not _is_article(m.group("l"), body[m.end("l"):].lstrip("*)]"), options):
            return Extraction(m.group("l"), "leading_letter", body[: m.end()].strip())
    else:
        m = re.match(r"^[\s\*\(\[]*(?P<w>[A-Za-z]+)", body)
        if m and m.group("w").lower() in options:
            return Extraction(m.group("w").lower(), "leading_word", m.group(0).strip())
    # 4. "Answer: X"
    for m in reversed(list(_ANSWER_COLON_RE.finditer(body))):
        v = _choice_in_span(m.group("span"), options, letters)
        if v is not None:
            return Extraction(v, "answer_colon", m.group(0).strip())
    # 5. exactly one option's text
    v = _unique_option_text(body, options)
    if v is not None:
        return Extraction(v, "option_text", options[v])
    # 6. last standalone option letter
    if letters:
        pat = _letter_pattern(keys)
        last = None
        for m in re.finditer(rf"(?<![A-Za-z0-9'’])(?P<l>{pat})(?![A-Za-z0-9'’])", body):
            after = body[m.end():]
            if m.group("l") == "A" and re.match(r"^\s+[a-z]", after) and not _is_option_a(after, options):
                continue  # the article "A", not the option
            last = m
        if last is not None:
            return Extraction(last.group("l"), "last_letter", last.group(0))
    return Extraction(None, "unparsed", "")


def _is_option_a(after: str, options: dict[str, str]) -> bool:
    return normalize_text(after).startswith(normalize_text(options.get("A", "\0")))


# ----------------------------------------------------------------------------- numbers

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


def _number_from_span(span: str, unit: str | None, default_unit: str | None) -> tuple[float, str] | None:
    q = parse_quantity(span, unit, default_unit)
    if not q:
        return None
    return q[0][0], q[0][2]


def extract_number(text: str, unit: str | None = None, default_unit: str | None = None) -> Extraction:
    """Scalar extraction, converted to `unit`; a unitless answer is read in `default_unit`."""
    body = _strip_reasoning(text)
    for rule, matches in (
        ("final_answer", [m.group("span") for m in _FINAL_RE.finditer(body)]),
        ("answer_tag", [m.group(1) for m in _TAG_RE.finditer(body)]),
        ("backtick", _backtick_spans(body)),
        ("answer_colon", [m.group("span") for m in _ANSWER_COLON_RE.finditer(body)]),
    ):
        for span in reversed(matches):
            r = _number_from_span(span, unit, default_unit)
            if r is not None:
                return Extraction(r[0], rule, r[1])
    m = re.match(rf"^\s*\**(?P<q>{_NUM})", body)
    q = parse_quantity(body, unit, default_unit)
    if m and q:
        return Extraction(q[0][0], "leading_number", q[0][2])
    if len(q) == 1:
        return Extraction(q[0][0], "unique_number", q[0][2])
    return Extraction(None, "unparsed", "")


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
    body = _strip_reasoning(text)
    for rule, spans in (
        ("final_answer", [m.group("span") for m in _FINAL_RE.finditer(body)]),
        ("answer_tag", [m.group(1) for m in _TAG_RE.finditer(body)]),
        ("backtick", _backtick_spans(body)),
        ("answer_colon", [m.group("span") for m in _ANSWER_COLON_RE.finditer(body)]),
    ):
        for span in reversed(spans):
            t = _tuples(span, n, unit, default_unit)
            if t:
                return Extraction(t[-1][0], rule, t[-1][1])
    t = _tuples(body, n, unit, default_unit)
    distinct = {tuple(v) for v, _ in t}
    if len(distinct) == 1:
        return Extraction(t[-1][0], "unique_tuple", t[-1][1])
    return Extraction(None, "unparsed", "")


# ----------------------------------------------------------------------------- tracks

_TRACK_LINE_RE = re.compile(
    rf"frame\s*(?P<f>\d+)\s*[:=\-]?\s*(?:[\(\[]\s*(?P<x>{_NUM})\s*,\s*(?P<y>{_NUM})\s*[\)\]])?"
    r"\s*,?\s*(?P<vis>not\s+visible|invisible|occluded|hidden|visible)?",
    re.IGNORECASE,
)


def _track_from_json(obj: Any) -> list[dict] | None:
    if isinstance(obj, dict):
        for key in ("track", "points", "tracks"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    if not isinstance(obj, list) or not obj:
        return None
    out = []
    for p in obj:
        if not isinstance(p, dict) or "frame" not in p:
            return None
        try:
            frame = int(p["frame"])
            vis = p.get("visible", p.get("visibility", True))
            vis = vis if isinstance(vis, bool) else str(vis).lower() in ("1", "true", "yes", "visible")
            x = float(p["x"]) if p.get("x") is not None else float("nan")
            y = float(p["y"]) if p.get("y") is not None else float("nan")
        except (TypeError, ValueError):
            return None
        out.append({"frame": frame, "x": x, "y": y, "visible": bool(vis)})
    return sorted(out, key=lambda p: p["frame"])


def _json_candidates(body: str) -> list[str]:
    cands = [m.group(1) for m in re.finditer(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)]
    start = body.find("[")
    end = body.rfind("]")
    if start != -1 and end > start:
        cands.append(body[start: end + 1])
    start = body.find("{")
    end = body.rfind("}")
    if start != -1 and end > start:
        cands.append(body[start: end + 1])
    return cands


def extract_track(text: str) -> Extraction:
    """Point track: list of {"frame": int, "x": float, "y": float, "visible": bool}, by frame."""
    body = _strip_reasoning(text)
    tags = [m.group(1) for m in _TAG_RE.finditer(body)]
    for rule, src in [("answer_tag", t) for t in reversed(tags)] + [("json", body)]:
        for cand in _json_candidates(src):
            try:
                track = _track_from_json(json.loads(cand))
            except (json.JSONDecodeError, ValueError):
                continue
            if track:
                return Extraction(track, "json" if rule == "json" else rule, cand[:200])
    points: dict[int, dict] = {}
    for m in _TRACK_LINE_RE.finditer(body):
        vis_word = (m.group("vis") or "").lower()
        has_xy = m.group("x") is not None
        if not has_xy and not vis_word:
            continue
        visible = (vis_word == "visible") or (has_xy and vis_word == "")
        x = _to_float(m.group("x")) if has_xy else float("nan")
        y = _to_float(m.group("y")) if has_xy else float("nan")
        points[int(m.group("f"))] = {"frame": int(m.group("f")), "x": x, "y": y, "visible": visible}
    if points:
        return Extraction([points[k] for k in sorted(points)], "frame_lines", "")
    return Extraction(None, "unparsed", "")


# ----------------------------------------------------------------------------- free text

def extract_free(text: str) -> Extraction:
    body = _strip_reasoning(text)
    if not body:
        return Extraction(None, "unparsed", "")
    for rule, spans in (
        ("final_answer", [m.group("span") for m in _FINAL_RE.finditer(body)]),
        ("answer_tag", [m.group(1) for m in _TAG_RE.finditer(body)]),
        ("backtick", [m.group(1) for m in _BACKTICK_RE.finditer(body)]),
        ("answer_colon", [m.group("span") for m in _ANSWER_COLON_RE.finditer(body)]),
        ("quoted", [m.group(1) or m.group(2) for m in _QUOTED_RE.finditer(body)]),
    ):
        for span in reversed(spans):
            v = normalize_text(span)
            if v:
                return Extraction(v, rule, span.strip())
    return Extraction(normalize_text(body), "whole_text", body)


# ----------------------------------------------------------------------------- dispatch

def _options_for(item: BenchItem) -> dict[str, str]:
    return {k: str(v) for k, v in (item.options or {}).items()}


def extract(
    response: str | None,
    item: BenchItem,
    *,
    guess: bool = False,
    rng: np.random.Generator | None = None,
) -> Extraction:
    """Extract the answer to `item` from `response` according to `item.answer_format`.

    guess: when nothing parses, pick a seeded random option (mc / yesno only), rule="random_guess".
    rng: the generator used for guessing (scoring passes one seeded per run).
    """
    text = response or ""
    fmt = item.answer_format
    # "unit": the ground truth's unit (values are converted to it); "response_unit": the unit the
    # question asks for, assumed when a response gives a bare number (MultiSPA: mm vs metres).
    unit = item.meta.get("unit")
    default_unit = item.meta.get("response_unit") or unit
    if fmt == "mc":
        ex = extract_choice(text, _options_for(item))
    elif fmt == "yesno":
        ex = extract_choice(text, {"yes": "yes", "no": "no"}, letters=False)
    elif fmt in ("number", "scalar"):
        ex = extract_number(text, unit, default_unit)
    elif fmt == "vector":
        ex = extract_tuple(text, int(item.meta.get("dim", 3)), unit, default_unit)
    elif fmt == "coord":
        ex = extract_tuple(text, 2, None)
    elif fmt == "track":
        ex = extract_track(text)
    elif fmt == "free":
        ex = extract_free(text)
    else:
        raise ValueError(f"item {item.id!r}: unknown answer_format {fmt!r}")
    if ex.value is None and guess and fmt in ("mc", "yesno"):
        rng = rng if rng is not None else np.random.default_rng(0)
        keys = list(_options_for(item)) if fmt == "mc" else ["yes", "no"]
        if keys:
            return Extraction(keys[int(rng.integers(len(keys)))], "random_guess", "")
    return ex
