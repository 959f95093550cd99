"""Option matching: which option of a multiple-choice (or yes/no) question a reply chooses.


Multiple choice (`mc`, options A..; `yesno` uses the labels "yes"/"no" the same way). Rules in
order; rules 1, 2 and 4 read STATEMENTS of the answer, and for those the LAST statement decides:

    1. final_answer   a statement of the answer: "Therefore, the final answer is: C", "The correct
                      answer is (B)", "Final Answer:" with the answer on the next line, "my answer
                      would be D", and the reversed "Option B is correct" / "(C) is the best answer"
    2. answer_tag     an `<answer>...</answer>` block
    3. leading_letter the response opens with an option letter ("C", "(C)", "C.", "**C**: left");
                      not an article ("A car moves ...", "A seems wrong and ...") and not the first
                      item of a walk through the options
    4. answer_colon   "Answer: C"
    5. option_text    exactly one option is named by its text in the response (longest texts
                      first, so "not moving" is not also read as "moving")
    6. last_line      the last line is an option and nothing else ("**B: right**")
    7. last_letter    the last standalone option letter ("... so I choose B."), leaving out the
                      items of a walk through the options, and never when a "final answer"
                      statement was made that named no option (its letters are reasoning)

    Reading a statement (`_Choices.read`) gives one of four results:
      - one option: the first option it names, by letter (a "$\\boxed{C}$" or "**C**" too) or by
        text; what follows ("B, because A is wrong", "left (not right)") does not change it;
      - several: the next different option named is joined to the first by "or", "and", "/",
        "," or "either/both" ("B or C", "left/right"): unparsed;
      - a refusal (extract_words.json "declines": "N/A", "not applicable", "cannot be determined",
        "need more information", "none of the options", ...) before any option, or the prompt's
        placeholder "$LETTER" echoed: unparsed;
      - nothing (no option, no refusal: "the answer depends on the camera"): the statement is
        passed over and the one before it is read.
    An unparsed last statement ends the reading: rules 3 to 7 never pick a letter out of the
    reasoning that led to a refusal or to two options.

    Options are named by MEANING, not only by their exact text (extract_words.json): texts are
    compared lower-cased, as word and punctuation tokens; spelling variants and inflections are
    one word ("counterclockwise" = "counter-clockwise" = "anti-clockwise", "upwards" = "up",
    "forward" = "forwards", "towards" = "toward"); an option made of filler words and a direction
    ("to the right", "moving left") is also named by the direction alone; number words are digits
    ("four" names "4", "twice" names "2 times") in statements and in answers of at most 12 words,
    not in long reasoning, where "one" is usually a pronoun. A phrase that contains an option's
    words names it ("moving to the right" names "right"); a bare count ("3", "three") names the
    one option whose text starts with it ("3 times"), none if several do ("2 with the left hand",
    "2 with the right hand"). Two options that would read alike are compared literally.

    A WALK THROUGH THE OPTIONS is a set of letter mentions that describe options rather than choose
    one: "Option A says ...", "option C (not spinning)", "B: left - the car ...", a line opening
    with "C)" or "D.". When at least two different letters are walked through, those mentions are
    not answers (rules 3 and 7); a later "So I choose B." still is.

    For yes/no, rule 3 is `leading_word` (the response opens with "yes" or "no") and rule 7 is
    skipped. Reasoning wrapped in `<think>...</think>` is dropped first: it mentions every option.
    When two options have the same text (VLM4D real_mc validation_633), an answer by letter keeps
    its letter and an answer by text gets the first of them; the scorer accepts either.


The multiple-choice and yes/no formats read replies with `extract_choice`; `same_option` tells
whether two option letters name options with the same text.
"""

from __future__ import annotations

import re

from qa4d.answers import statements as _S
from qa4d.answers.base import Extraction
from qa4d.answers.options import (  # noqa: F401 (_CHOICES_CACHE, _OPTION_CANON: the caches tests clear)
    _CHOICES_CACHE,
    _LETTER_RE,
    _NEXT_WORD_RE,
    _OPTION_CANON,
    NOTHING,
    OPTION,
    _as_text,
    _choices,
    _Choices,
    compiled_choices,
    same_option,
)
from qa4d.answers.statements import normalize_text, strip_reasoning

# ----------------------------------------------------------------------------- reading replies
#
# A multiple-choice response is read in three layers:
#   - statements of the answer (final-answer phrases, "Option B is correct", <answer> tags,
#     "Answer: X"), each read by `_Choices.read` (qa4d.answers.options), which says whether it
#     names one option, several ("B or C"), declines ("N/A", "$LETTER") or names nothing at all;
#   - the whole response's shape (it opens with a letter, its last line is an option, exactly one
#     option's text occurs in it);
#   - the last letter that is not part of a walk through the options.

# statements of the answer: a head ending in a keyword, then a connector (required, so "the answer
# options are ..." is not a statement); "Final answer" alone on a line (a heading) states it on the
# next line. Matched on lower-cased text.
_HEADS = (
    ("answer", re.compile(r"(?<![a-z])(?:final|correct|right|the|my|best)\s+$")),
    ("option", re.compile(r"(?<![a-z])(?:correct|best)\s+$")),
    ("choice", re.compile(r"(?<![a-z])correct\s+$")),
)
_CONNECTOR_RE = re.compile(
    r"[\*_]*(?P<conn>\s*(?:is|would\s+be|should\s+be|will\s+be|must\s+be|remains)\b[\*_]*\s*[:：]?"
    r"|\s*[:：=]|\s+-\s|[ \t]*(?=\n))[\*_ \t]*")
# "Option B is correct", "(C) is the best answer", "B is the most accurate choice"
_REVERSED_RE = re.compile(
    r"(?<![A-Za-z0-9'’])(?:(?:option|choice|answer)\s*)?[\(\[*]*(?P<l>[A-Z])[\)\]*]*"
    r"(?:\s*\([^()\n]{0,60}\))?\s*(?::\s*[^\n:]{0,60}?\s*)?"
    r"(?:is|seems|appears)\s+(?:to\s+be\s+)?(?:the\s+)?(?:most\s+|only\s+)?"
    r"(?:correct|accurate|(?:right|best|appropriate|valid)\s+(?:answer|option|choice))\b",
)
_REVERSED_TAIL_RE = re.compile(
    r"(?:is|seems|appears)\s+(?:to\s+be\s+)?(?:the\s+)?(?:most\s+|only\s+)?"
    r"(?:(?:right|best|appropriate|valid)\s+)?$")
_ANSWER_TAG_RE = re.compile(r"<answer>\s*(.*?)\s*(?:</answer>|$)", re.IGNORECASE | re.DOTALL)
# an option named as an item of a walk through the options, not as the answer
_WALK_BEFORE_RE = re.compile(r"(?:option|choice)\s*[\(\[]?$", re.IGNORECASE)
_WALK_AFTER_RE = re.compile(
    r"^[\)\]]?\**\s*(?:[:(\-–—]|is\b|says|suggests|states|would|implies|claims|describes|mentions|represents"
    r"|refers|indicates|corresponds|seems|does|doesn't|can|could|might|may|isn't|shows|involves|means)", re.IGNORECASE)
_LINE_START_RE = re.compile(r"(?:^|\n)[ \t]*(?:[-*•>]|\d+[.)])?[ \t]*(?:\*\*)?[\(\[]?(?:\*\*)?$")
_LINE_ITEM_AFTER_RE = re.compile(r"^[\)\]]?(?:\*\*)?\s*[:.)\-–—]")
_LEADING_RE = re.compile(r"^[\s\*\(\[]*(?P<l>[A-Z])[\*\)\]]*(?P<after>[\.\):：,]|\s|$)")
_LEADING_WORD_RE = re.compile(r"^[\s\*\(\[]*(?P<w>[A-Za-z]+)")
_ANSWER_COLON_CHOICE_RE = re.compile(r"(?<![A-Za-z])answer[\*_]*\s*[:：][\*_]*[ \t]*(?P<span>[^\n]*)", re.IGNORECASE)
_SHORT_WORDS = 12  # a response of at most this many words is a short answer: number words count

def _span_here_or_next_line(body: str, end: int, span: str) -> str:
    """`span`, or when it holds no word (the answer follows on its own line), the next non-empty line."""
    if _WORD_CHAR_RE.search(span):
        return span
    nxt = re.match(r"[^\n]*\n\s*([^\n]*)", body[end - len(span):])
    return nxt.group(1)[:200] if nxt else ""


_WORD_CHAR_RE = re.compile(r"[A-Za-z0-9]")


def _keyword_positions(low: str, words: tuple[str, ...]) -> list[int]:
    out = []
    for w in words:
        p = low.find(w)
        while p != -1:
            out.append(p)
            p = low.find(w, p + len(w))
    return sorted(out)


def _statements(body: str, low: str) -> list[tuple[int, str, str, bool]]:
    """(position, span, matched text, is a "final answer" statement) of every statement of the
    answer, in text order; a span is the rest of its line, up to the next statement.

    Statements are looked for around the words each one holds ("answer", "option", "choice",
    "correct", "accurate"), in `low` (`body` lower-cased, same length), not at every position of
    a long response: the words before the keyword make the head ("final answer", "the correct
    option"), `_CONNECTOR_RE` the link to the answer ("is", ":", "would be")."""
    found: dict[int, tuple[int, bool]] = {}
    for kw, before in _HEADS:
        p = low.find(kw)
        while p != -1:
            h = before.search(low, max(0, p - 16), p)
            c = _CONNECTOR_RE.match(low, p + len(kw)) if h else None
            if c is not None:
                final = h.group(0)[0] == "f"
                if c.group("conn").strip() or final:  # only "Final answer" works as a heading
                    found[h.start()] = (c.end(), final)
            p = low.find(kw, p + len(kw))
    starts = sorted(found)
    out = []
    for i, start in enumerate(starts):
        end, final = found[start]
        line_end = body.find("\n", end)
        stop = len(body) if line_end == -1 else line_end
        if i + 1 < len(starts) and starts[i + 1] < stop:
            stop = max(end, starts[i + 1])
        span = body[end:stop]
        out.append((start, _span_here_or_next_line(body, stop, span), body[start:stop].strip(), final))
    seen: set[int] = set()
    for p in _keyword_positions(low, ("correct", "accurate", "answer", "option", "choice")):
        # cheap test first: a verb ("is", "seems") right before the keyword (or before "best" in
        # "is the best answer"); only then the full pattern, which may reach 160 characters back
        if not _REVERSED_TAIL_RE.search(low, max(0, p - 48), p):
            continue
        for m in _REVERSED_RE.finditer(body, max(0, p - 160), p + 8):
            if m.end() in seen:
                continue
            seen.add(m.end())
            out.append((m.start(), m.group("l"), m.group(0).strip(), False))
    out.sort(key=lambda t: t[0])
    return out


def _walk_mentions(body: str, c: _Choices) -> list[tuple[re.Match, bool]]:
    """Every standalone option letter of `body` that names an option, with whether it is an item
    of a walk through the options ("Option A says ...", "B: right - no", a line "C) ...")."""
    out = []
    for m in _LETTER_RE.finditer(body):
        if not c.names_option(body, m):
            continue
        L = m.group(0)
        before = body[max(0, m.start() - 12): m.start()]
        after = body[m.end(): m.end() + 80]
        walk = bool(_WALK_BEFORE_RE.search(before) and _WALK_AFTER_RE.match(after))
        if not walk:
            own = c.canon(re.sub(r"^[\)\]\*]*\s*[:.)\-–—]?\s*[(\"'*]*", " ", after), numbers=True)
            walk = bool(c.own[L]) and own.startswith(f" {c.own[L]} ")
        if not walk:
            walk = bool(_LINE_START_RE.search(body, max(0, m.start() - 12), m.start()) and _LINE_ITEM_AFTER_RE.match(after))
        out.append((m, walk))
    return out


def extract_choice(text: str, options: dict[str, str], *, letters: bool = True) -> Extraction:
    """Multiple-choice extraction (rules in the module docstring).

    options: {"A": "left", ...}; for yes/no pass {"yes": "yes", "no": "no"} and letters=False.
    Returns the option key (letter, or "yes"/"no") or an unparsed Extraction.
    """
    return extract_compiled(text, _choices(options, letters))


def extract_compiled(text: str, c: _Choices) -> Extraction:
    """`extract_choice` with the option set already compiled (`compiled_choices`): for callers
    that read many replies to one option set."""
    if _S._QUICK and c.capital_keys and len(text) <= _LETTER_REPLY_CHARS:
        lead = _LETTER_REPLIES.get(text, _UNSEEN)
        if lead is _UNSEEN:
            if len(_LETTER_REPLIES) >= 16384:
                _LETTER_REPLIES.clear()
            lead = _LETTER_REPLIES[text] = _letter_reply(text)
        if lead is not None and lead.value in c.keys:
            return lead
    body = strip_reasoning(text)
    if not body:
        return Extraction(None, "unparsed", "")
    low = body.lower()
    if len(low) != len(body):  # a few characters change length when lower-cased ("İ")
        low = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in body)
    if _S._QUICK:  # rule 1's common case first (what `_rule_statements` would try first)
        quick = _last_statement(body, low, c)
        if quick is not None:
            return quick
    r = _Reply(body, c, low)
    r.tried_last = _S._QUICK
    # rule 1 finds nothing in a reply without its keywords ("Answer: B", "<answer>B</answer>")
    for rule in (_RULES if not _S._QUICK or _may_state(low) else _RULES[1:]):
        ex = rule(r)
        if ex is not None:
            return ex
    return Extraction(None, "unparsed", "")


_LETTER_REPLY_CHARS = 64
_LETTER_REPLIES: dict[str, Extraction | None] = {}  # short reply -> `_letter_reply`
_UNSEEN = object()
_CAPITAL_RE = re.compile("[A-Z]")


def _letter_reply(text: str) -> Extraction | None:
    """The reading of a reply that opens with a capital letter and holds no other capital letter,
    nothing rule 1 or 2 could read, and not the article "A" before a word ("B", "**C**", "(D)
    up", "B."): rule 3 reads it as that letter, whatever the option texts are, in every option
    set whose keys are capital letters and include it (no walk through the options needs two
    option letters); None for any other reply. Direct answers repeat across questions, so the
    reading is kept by reply."""
    body = strip_reasoning(text)
    low = body.lower()
    if len(low) != len(body) or "<answer>" in low or _may_state(low):
        return None
    m = _LEADING_RE.match(body)
    lm = _LETTER_RE.match(body, m.start("l")) if m else None
    if lm is None:
        return None
    if _CAPITAL_RE.search(body, 0, lm.start()) or _CAPITAL_RE.search(body, lm.end()):
        return None
    if lm.group(0) == "A" and _NEXT_WORD_RE.match(body, lm.end()) is not None:
        return None  # `_opens_answer` would compare the next words with option A's text
    return Extraction(lm.group(0), "leading_letter", body[: m.end()].strip())


def _may_state(low: str) -> bool:
    """False when rule 1 can find no statement in `low`: no "option", "choice", "correct" or
    "accurate", and no "answer" right after whitespace (a statement's head, "the final answer",
    and the reversed "B is the best answer" both end in whitespace before the keyword), as in
    "Answer: B", "**Answer:** B" or "<answer>B</answer>"."""
    if "option" in low or "choice" in low or "correct" in low or "accurate" in low:
        return True
    p = low.find("answer")
    while p != -1:
        if p > 0 and low[p - 1].isspace():  # str.isspace is what \s matches
            return True
        p = low.find("answer", p + 6)
    return False


class _Reply:
    """A reply being read: its text, lower-cased text (same length), the option set, and what the
    earlier rules learnt that later ones need."""

    def __init__(self, body: str, c: _Choices, low: str):
        self.body, self.c = body, c
        self.low = low  # body.lower(), the same length
        self.tried_last = False  # _last_statement was tried (and found nothing)
        self.final_but_nothing = False  # a "final answer" statement named no option
        self.walks: list[tuple[re.Match, bool]] | None = None  # _walk_mentions, once computed


def _read_last(c: _Choices, found: list[tuple[str, str]], rule: str) -> Extraction | None:
    """The last (span, whole) that names an option, several options or declines decides; one that
    names nothing is passed over. None when none decides."""
    for span, whole in reversed(found):
        kind, v = c.read(span)
        if kind == OPTION:
            return Extraction(v, rule, whole)
        if kind != NOTHING:
            return Extraction(None, "unparsed", whole)
    return None


def _rule_statements(r: _Reply) -> Extraction | None:
    """1. statements of the answer ("the final answer is", "Option B is correct")."""
    low, body, c = r.low, r.body, r.c
    if not ("answer" in low or "option" in low or "correct" in low or "accurate" in low or "choice" in low):
        return None
    quick = _last_statement(body, low, c) if _S._QUICK and not r.tried_last else None
    if quick is not None:
        return quick
    for _, span, whole, final in reversed(_statements(body, low)):
        kind, v = c.read(span)
        if kind == OPTION:
            return Extraction(v, "final_answer", whole)
        if kind != NOTHING:
            return Extraction(None, "unparsed", whole)
        r.final_but_nothing = r.final_but_nothing or final
    return None


def _rule_answer_tag(r: _Reply) -> Extraction | None:
    """2. an <answer> block (the last one decides)."""
    return _read_last(r.c, _answer_tags(r.body, r.low), "answer_tag") if "<answer>" in r.low else None


def _rule_leading(r: _Reply) -> Extraction | None:
    """3. the reply opens with an option letter (not the first item of a walk through them), or
    for yes/no with the word."""
    body, c = r.body, r.c
    if not c.letters:
        m = _LEADING_WORD_RE.match(body)
        if m and m.group("w").lower() in c.options:
            return Extraction(m.group("w").lower(), "leading_word", m.group(0).strip())
        return None
    m = _LEADING_RE.match(body)
    lm = _LETTER_RE.match(body, m.start("l")) if m else None
    if lm is not None and lm.group(0) in c.keys and _opens_answer(body, lm, c):
        # a walk needs two option letters; most answers that open with a letter hold one
        r.walks = _walk_mentions(body, c) if not _S._QUICK or len(c.keys.intersection(body)) >= 2 else []
        if not _walked_item(r.walks, lm.start()):
            return Extraction(lm.group(0), "leading_letter", body[: m.end()].strip())
    return None


def _rule_answer_colon(r: _Reply) -> Extraction | None:
    """4. "Answer: X" (the last one decides)."""
    return _read_last(r.c, _answer_colons(r.body, r.low), "answer_colon") if "answer" in r.low else None


def _rule_option_text(r: _Reply) -> Extraction | None:
    """5. exactly one option's text occurs (number words count in short answers); a reply that is
    an option's text and nothing else is that option (what the general reading gives)."""
    body, c = r.body, r.c
    k = c.by_text.get(normalize_text(body)) if _S._QUICK and len(body) <= 80 else None
    if k is not None:
        return Extraction(k, "option_text", c.options[k])
    short = len(body.split()) <= _SHORT_WORDS
    s = c.canon(body, numbers=short)
    groups = {g for _, _, g in c.text_mentions(s)}
    if len(groups) == 1:
        k = c.first_of[groups.pop()]
        return Extraction(k, "option_text", c.options[k])
    k = c.count_option(s) if short and not groups else None
    return Extraction(k, "option_text", c.options[k]) if k is not None else None


def _rule_last_line(r: _Reply) -> Extraction | None:
    """6. the last line is an option and nothing else ("**B: right**" after a walk through them)."""
    last_line = r.body.rstrip().rsplit("\n", 1)[-1]
    v = r.c.only_option(last_line)
    return Extraction(v, "last_line", last_line.strip()) if v is not None else None


def _rule_last_letter(r: _Reply) -> Extraction | None:
    """7. the last option letter that is not an item of a walk through the options; not when a
    "final answer" statement named no option (the letters before it are reasoning)."""
    if not r.c.letters or r.final_but_nothing:
        return None
    walks = r.walks if r.walks is not None else _walk_mentions(r.body, r.c)
    walked = {m.group(0) for m, w in walks if w}
    keep = [m for m, w in walks if not (w and len(walked) >= 2)]
    return Extraction(keep[-1].group(0), "last_letter", keep[-1].group(0)) if keep else None


_RULES = (_rule_statements, _rule_answer_tag, _rule_leading, _rule_answer_colon, _rule_option_text,
          _rule_last_line, _rule_last_letter)


def _answer_colons(body: str, low: str) -> list[tuple[str, str]]:
    """(span, matched text) of each "Answer: X" (`_ANSWER_COLON_CHOICE_RE`), found from the word."""
    if not _S._QUICK:
        return [(_span_here_or_next_line(body, m.end(), m.group("span")), m.group(0).strip())
                for m in _ANSWER_COLON_CHOICE_RE.finditer(body)]
    out = []
    p = low.find("answer")
    while p != -1:
        nxt = p + 6
        if p == 0 or not ("a" <= low[p - 1] <= "z"):
            m = _ANSWER_COLON_CHOICE_RE.match(body, p)
            if m is not None:
                out.append((_span_here_or_next_line(body, m.end(), m.group("span")), m.group(0).strip()))
                nxt = m.end()
        p = low.find("answer", nxt)
    return out


def _answer_tags(body: str, low: str) -> list[tuple[str, str]]:
    """(content, whole tag) of each `<answer>...</answer>` block (an unclosed one runs to the
    end), as _ANSWER_TAG_RE finds them."""
    if not _S._QUICK:
        return [(m.group(1), m.group(0).strip()) for m in _ANSWER_TAG_RE.finditer(body)]
    out = []
    p = low.find("<answer>")
    while p != -1:
        q = low.find("</answer>", p + 8)
        end = len(body) if q == -1 else q + 9
        out.append((body[p + 8: len(body) if q == -1 else q].strip(), body[p:end].strip()))
        p = low.find("<answer>", end)
    return out


def _last_statement(body: str, low: str, c: _Choices) -> Extraction | None:
    """The common case of rule 1 in one step: the last "answer" of the response heads a statement
    that no later statement follows ("...the final answer is: B"), so that statement is the last
    one `_statements` would find, and it decides unless it names nothing (one option, several or
    a refusal). None when that is not so: the general reading then decides."""
    p = low.rfind("answer")
    if p < 0:
        return None
    # where the statement is depends on the text from 17 characters before that "answer" on
    # (the head's window of 16 and the character its look-behind sees), the same in every reply
    # that ends so ("...Therefore, the final answer is: B"): found once per such tail
    s0 = p - 17 if p > 17 else 0
    if len(body) - s0 <= _TAIL_CHARS:
        key = (body[s0:], low[s0:])
        found = _TAILS.get(key, _UNSEEN)
        if found is _UNSEEN:
            if len(_TAILS) >= 16384:
                _TAILS.clear()
            found = _TAILS[key] = _statement_at(key[0], key[1], p - s0)
    else:
        found = _statement_at(body, low, p)
    if found is None:
        return None
    span, text = found
    kind, v = c.read_kept(span)  # as `_rule_statements` reads its last statement
    if kind == OPTION:
        return Extraction(v, "final_answer", text)
    if kind != NOTHING:
        return Extraction(None, "unparsed", text)
    return None


_TAIL_CHARS = 200
_TAILS: dict[tuple[str, str], tuple[str, str] | None] = {}  # (tail, its lower case) -> `_statement_at`


def _statement_at(body: str, low: str, p: int) -> tuple[str, str] | None:
    """(span, statement text) of the statement the "answer" at `p` heads when no later statement
    follows it (`_last_statement`), else None."""
    h = _HEADS[0][1].search(low, max(0, p - 16), p)
    if h is None:
        return None
    hs = h.start()
    for kw in ("option", "choice", "correct", "accurate"):  # no such word from the head on
        if low.find(kw, hs) != -1:
            return None
    conn = _CONNECTOR_RE.match(low, p + 6)
    if conn is None or not (conn.group("conn").strip() or h.group(0)[0] == "f"):
        return None
    end = conn.end()
    line_end = body.find("\n", end)
    stop = len(body) if line_end == -1 else line_end
    return _span_here_or_next_line(body, stop, body[end:stop]), body[hs:stop].strip()


def _opens_answer(body: str, m: re.Match, c: _Choices) -> bool:
    """Whether a response's opening letter is its answer: any option letter, except an "A"
    followed by a lower-case word that does not begin option A's text ("A car moves left",
    "A seems wrong and ...": an article, or the start of a weighing of the options)."""
    if m.group(0) != "A" or _NEXT_WORD_RE.match(body, m.end()) is None:
        return True
    return bool(c.own["A"]) and c.canon(body[m.end(): m.end() + 80], numbers=True).startswith(f" {c.own['A']} ")


def _walked_item(walks: list[tuple[re.Match, bool]], start: int) -> bool:
    walked = {m.group(0) for m, w in walks if w}
    return len(walked) >= 2 and any(w and m.start() == start for m, w in walks)
