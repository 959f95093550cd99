"""Option sets, compiled: the option matching that qa4d.answers.choices reads replies with.

An option set (`_Choices`, built once per distinct set by `compiled_choices`) holds its options'
canonical texts and says how a span of a reply names them: `read` gives one option, several
("B or C"), a refusal ("N/A", "$LETTER") or nothing; `quick_read` the plain cases faster;
`only_option` a line that is an option and nothing else; `text_mentions` where option texts occur.
The rules (options named by meaning, number words, direction cores, the article "A") are in the
docstring of qa4d.answers.choices, which applies them to whole replies.

Texts are compared in a canonical form (`_canon`): lower case, word and punctuation tokens
separated by single spaces, spelling variants and inflections mapped to one word
(extract_words.json), number words as digits where asked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from qa4d.answers import statements as _S
from qa4d.answers.statements import normalize_text

_WORDS = json.loads(Path(__file__).with_name("extract_words.json").read_text(encoding="utf-8"))
_VARIANTS: dict[str, str] = _WORDS["variants"]
_COMPOUNDS: dict[str, str] = _WORDS["compounds"]
_NUMBERS: dict[str, str] = {**_WORDS["number_words"], **{w: f"{d} times" for w, d in _WORDS["times_words"].items()}}
_COMPOUND_FIRST_WORDS = sorted({c.split()[0] for c in _COMPOUNDS})
_COMPOUND_RE = re.compile("|".join(
    r"(?<![a-z0-9])" + r"[\s\-]+".join(map(re.escape, c.split())) + r"(?![a-z0-9])" for c in _COMPOUNDS))
# anything that is not part of a word, a kept punctuation mark or a letter marker becomes a space;
# an apostrophe stays only inside a word ("it's")
_JUNK_RE = re.compile(r"[^a-z0-9'@.,;:/&()!?]+|(?<![a-z])'|'(?![a-z])")
_VARIANT_RE = re.compile(r"(?<![a-z0-9'@])(?:" + "|".join(
    map(re.escape, sorted(_VARIANTS, key=len, reverse=True))) + r")(?![a-z0-9'])")
_NUMBER_RE = re.compile(r"(?<![a-z0-9'@])(?:" + "|".join(
    map(re.escape, sorted(_NUMBERS, key=len, reverse=True))) + r")(?![a-z0-9'])")
_COORDINATORS = frozenset(_WORDS["coordinators"])
_NEUTRAL = frozenset({"(", ")", "option", "options", "choice", "choices"})
_NEGATED_RE = re.compile(r"(?:^|[^a-z])(?:" + "|".join(map(re.escape, _WORDS["negators"])) +
                         r")\s+(?:(?:option|choice)\s+)?[\(\[*]*$", re.IGNORECASE)


def _canon(text: str, numbers: bool = False) -> str:
    """Canonical form " tok tok ... " of a text (see above); numbers: number words -> digits."""
    s = text.lower()
    if "’" in s:
        s = s.replace("’", "'")
    if any(w in s for w in _COMPOUND_FIRST_WORDS):
        s = _COMPOUND_RE.sub(lambda m: _COMPOUNDS[" ".join(re.split(r"[\s\-]+", m.group(0)))], s)
    words = _separate(s).split()
    if _S._QUICK and (numbers or len(words) <= 64):  # word by word: the same as the patterns below
        table = _WORD_MAP_NUMBERS if numbers else _VARIANTS
        return " " + " ".join([table.get(w, w) for w in words]) + " "
    s = _VARIANT_RE.sub(lambda m: _VARIANTS[m.group(0)], " ".join(words))
    if numbers:
        s = _NUMBER_RE.sub(lambda m: _NUMBERS[m.group(0)], s)
    return " " + s + " "



_WORD_MAP_NUMBERS = {**_VARIANTS, **_NUMBERS}
_OPTION_CANON: dict[tuple[str, bool, bool], str] = {}


def _option_canon(text: str, numbers: bool) -> str:
    """`_canon` of an option's text, kept: a benchmark's option sets repeat the same few texts
    ("left", "not moving"), each read several ways when a set is compiled."""
    key = (text, numbers, _S._QUICK)
    s = _OPTION_CANON.get(key)
    if s is None:
        if len(_OPTION_CANON) > 65536:
            _OPTION_CANON.clear()
        s = _OPTION_CANON[key] = _canon(text, numbers)
    return s


# ASCII punctuation kept as a token gets spaces around it; other ASCII that is not part of a word
# becomes a space (with str.translate; _JUNK_RE then clears what translate cannot: apostrophes
# outside words, non-ASCII characters)
_SEPARATE = {ord(ch): f" {ch} " for ch in ".,;:/&()!?"}
_SEPARATE.update({i: " " for i in range(128) if not (chr(i).isalnum() or chr(i) in ".,;:/&()!?'@")})


def _separate(s: str) -> str:
    s = s.translate(_SEPARATE)
    if "'" in s or not s.isascii():
        s = _JUNK_RE.sub(" ", s)
    return s


_DECLINE_RE = re.compile(" (?:" + "|".join(
    re.escape(_canon(d).strip()) for d in sorted(_WORDS["declines"], key=len, reverse=True)) + ") ")
# the prompt's own placeholder echoed instead of a letter: "$LETTER", "\$LETTER", "{LETTER}"
_PLACEHOLDER_RE = re.compile(r"^[\s\*_`'\"(\[]*(?:\\?\$|\{|<)\s*letter\b[}>$]?|^[\s\*_`'\"(\[]*LETTER\b", re.IGNORECASE)
_LETTER_RE = re.compile(r"(?<![A-Za-z0-9'’])[A-Z](?![A-Za-z0-9'’])")
_LOWER_LEAD_RE = re.compile(r"^[\s\*_`'\"(\[{$\\]*(?:boxed\{|text\{|option\s+|choice\s+)?([a-z])(?![A-Za-z0-9'’])")
# a span that is one letter, with markup, maybe followed by its option's text: the common case
_SPAN_LETTER_RE = re.compile(
    r"^[\s\*_`'\"(\[]*(?:\$?\\boxed\{|option\s+|choice\s+)?([A-Z])(?![A-Za-z0-9'’])[\s\*_`'\")\]}$]*(?:[.:,\-–—]?[\s\*_`'\"(]*(?P<rest>[^*_`'\"()]*?))?"
    r"[\s\*_`'\")\].]*$")
_PUNCTUATION = frozenset(".,;:/&()!?")
_MARKER_RE = re.compile(r"(?<= )@([a-z])(?= )")  # a letter marked by mark_letters, after _canon
_NEXT_WORD_RE = re.compile(r"\s+([a-z][a-z']*)")
# words that follow a letter naming an option ("A and B", "A is wrong"), unlike the article "A"
_AFTER_LETTER = frozenset(_WORDS["after_letter"])
_NA_RE = re.compile(r"(?<![A-Za-z0-9])N/A(?![A-Za-z0-9])", re.IGNORECASE)
OPTION, SEVERAL, DECLINE, NOTHING = "option", "several", "decline", "nothing"


class _Choices:
    """One option set, compiled once: its canonical texts and how to find them in a text."""

    def __init__(self, options: dict[str, str], letters: bool):
        self.options = options
        self.letters = letters
        self.keys = set(options)
        # option keys that are capital letters ("A".."D"): `_letter_reply` readings hold for them
        self.capital_keys = letters and all(type(k) is str and len(k) == 1 and "A" <= k <= "Z" for k in options)
        # options with the same text are one group (the scorer accepts any of them)
        self.group: dict[str, str] = {}
        first_of: dict[str, str] = {}
        for k, v in options.items():
            g = normalize_text(v)
            self.group[k] = g
            first_of.setdefault(g, k)
        self.first_of = first_of
        self.a_text = _option_canon(options.get("A", "\0"), True).strip()
        terms = self._terms(canonical=True)
        self.canonical = terms is not None
        if terms is None:  # two options read alike once canonical ("up" and "upwards"): compare literally
            terms = self._terms(canonical=False) or []
        self.terms = terms
        self.term_set = {t for t, _ in terms}
        # each option's own text, for spotting "B: right" in a walk through the options
        self.own = {k: (_option_canon(v, True) if self.canonical else _literal(v)).strip(" .")
                    for k, v in options.items()}
        self.own_lower = {k: v.strip().lower() for k, v in options.items()}
        # the first word of each option's text when it is a number followed by more ("3 times")
        self.first_word = {k: w[0] for k, v in options.items() if len(w := _option_canon(v, True).split()) > 1}
        self.by_text = {}  # an option's exact text -> its key (first of a group)
        for k in options:
            self.by_text.setdefault(self.group[k], k)  # the group is normalize_text of the text
        self._spans: dict[str, tuple[str, str | None]] = {}  # span -> `read`, for `read_kept`

    def _terms(self, canonical: bool) -> list[tuple[str, str]] | None:
        """[(term, group)] longest first: each option's canonical text (with and without number
        words as digits) and its direction core. A core two options share is dropped; None when
        two options' full texts read alike."""
        owner: dict[str, str] = {}
        shared: set[str] = set()
        full: set[str] = set()
        for k, v in self.options.items():
            g = self.group[k]
            forms = {_option_canon(v, True), _option_canon(v, False)} if canonical else {_literal(v)}
            forms = {t.strip(" .") for t in forms} - {""}
            core = _direction_core(_option_canon(v, False)) if canonical else None
            full |= forms
            for t in [*forms, *([core] if core else [])]:
                if owner.get(t, g) != g:
                    shared.add(t)
                owner[t] = g
        if canonical and shared & full:
            return None
        return sorted(((t, g) for t, g in owner.items() if t not in shared), key=lambda x: -len(x[0]))

    # -- reading
    def canon(self, text: str, numbers: bool) -> str:
        return _canon(text, numbers) if self.canonical else _literal(text)

    def text_mentions(self, s: str) -> list[tuple[int, int, str]]:
        """(start, end, group) of option texts in canonical `s`, longest texts first, no overlaps."""
        found = []
        for t, g in self.terms:
            pat = f" {t} "
            j = s.find(pat)
            while j != -1:
                found.append((j + 1, j + 1 + len(t), g))
                s = s[: j + 1] + "\0" * len(t) + s[j + 1 + len(t):]
                j = s.find(pat, j + len(t))
        return found

    def mark_letters(self, text: str, lead: bool) -> str:
        """`text` with each standalone letter that names an option replaced by " @X " (not an
        article "A car ...", not a negated "not B"); lead: a lower-case letter opening the text
        ("the answer is: b") counts too."""
        if not self.letters:
            return text
        if "@" in text:  # the marker character: a stray one in the text is only punctuation
            text = text.replace("@", " ")
        if lead and (m := _LOWER_LEAD_RE.match(text)) and m.group(1).upper() in self.keys and (
                m.group(1) != "a" or not re.match(r"\s*[a-z]", text[m.end():])):
            text = text[:m.start(1)] + m.group(1).upper() + text[m.end(1):]
        out, last = [], 0
        for m in _LETTER_RE.finditer(text):
            if not self.names_option(text, m):
                continue
            out.append(text[last:m.start()])
            out.append(f" @{m.group(0)} ")
            last = m.end()
        out.append(text[last:])
        return "".join(out)

    def names_option(self, text: str, m: re.Match) -> bool:
        return (m.group(0) in self.keys and not self._article(text, m)
                and not _NEGATED_RE.search(text, max(0, m.start() - 30), m.start()))

    def _article(self, text: str, m: re.Match) -> bool:
        """An "A" opening a phrase ("A car moves left") rather than naming option A ("A and B",
        "A is wrong")."""
        if m.group(0) != "A":
            return False
        after = text[m.end(): m.end() + 80]
        w = _NEXT_WORD_RE.match(after)
        if w is None or w.group(1) in _AFTER_LETTER:
            return False
        return not _canon(after, numbers=True).startswith(" " + self.a_text + " ") or not self.a_text

    def read(self, span: str) -> tuple[str, str | None]:
        """Read a span that states the answer: (OPTION, key) | (SEVERAL, None) | (DECLINE, None) |
        (NOTHING, None). The first option named decides, unless the next different option is joined
        to it ("B or C", "left/right": SEVERAL) or a decline comes first ("N/A", "cannot be
        determined"); the prompt's "$LETTER" placeholder is a decline."""
        quick = self.quick_read(span) if _S._QUICK else None
        if quick is not None:
            return OPTION, quick
        return self.read_fully(span)

    def read_kept(self, span: str) -> tuple[str, str | None]:
        """`read`, kept per span: the spans of final statements repeat ("B", "cannot be determined")."""
        got = self._spans.get(span)
        if got is None:
            if len(self._spans) >= 1024:
                self._spans.clear()
            got = self._spans[span] = self.read(span)
        return got

    def read_fully(self, span: str) -> tuple[str, str | None]:
        """`read` without its shortcut (`quick_read`), for a span that it did not read."""
        m = _PLACEHOLDER_RE.match(span)
        if m:
            rest = span[m.end():]
            if not re.match(r"\s*(?:[:=]|is\b)", rest):
                return DECLINE, None
            span = re.sub(r"^\s*(?:[:=]|is\b)", " ", rest)
        s = self.canon(self.mark_letters(_NA_RE.sub("n/a", span), lead=True), numbers=True)
        # (start, end, group, the letter when named by letter) of each option named, in order
        mentions = [(a, b, g, None) for a, b, g in self.text_mentions(s)]
        if self.letters and "@" in s:
            for lm in _MARKER_RE.finditer(s):
                key = lm.group(1).upper()
                mentions.append((lm.start(), lm.end(), self.group[key], key))
        decline = _DECLINE_RE.search(s)
        if not mentions:
            if decline:
                return DECLINE, None
            k = self.count_option(s)
            return (OPTION, k) if k is not None else (NOTHING, None)
        mentions.sort(key=lambda t: t[0])
        start, end, g, key = mentions[0]
        if decline and decline.start() + 1 < start:
            return DECLINE, None
        for s2, _, g2, _ in mentions[1:]:
            if g2 != g:
                between = s[end:s2].split()
                if all(t in _COORDINATORS or t in _NEUTRAL for t in between) and not (
                        between and all(t in _NEUTRAL for t in between)):
                    return SEVERAL, None
                break
        return OPTION, key or self.first_of[g]

    def count_option(self, s: str) -> str | None:
        """A bare count ("3", "three", canonical `s` holding one number and punctuation) names the
        one option whose text starts with that number and a word ("3 times", "3 logs"); None when
        no option or several do."""
        words = [w for w in s.split() if w not in _PUNCTUATION]
        if len(words) != 1 or not words[0].isdigit():
            return None
        groups = {self.group[k] for k, first in self.first_word.items() if first == words[0]}
        return self.first_of[groups.pop()] if len(groups) == 1 else None

    def quick_read(self, span: str) -> str | None:
        """The option of a span that is plainly one option: a letter with markup ("B", "**B**",
        "$\\boxed{B}$"), maybe with its own text ("(B) left"), or an option's text alone
        ("left"); None otherwise. Gives what `read` gives, faster."""
        if self.letters:
            m = _SPAN_LETTER_RE.match(span)
            if m and m.group(1) in self.keys and not ("boxed" in m.group(0) and "boxed" in self.term_set):
                rest = m.group("rest")
                if not rest or rest.lower() == self.own_lower[m.group(1)]:
                    return m.group(1)
        if len(span) <= 80:
            norm = normalize_text(span)
            k = self.by_text.get(norm)
            if k is not None and (not self.letters or (_LETTER_RE.search(span) is None
                                                       and not (len(norm) == 1 and norm.isalpha()))):
                return k
        return None

    def only_option(self, line: str) -> str | None:
        """The option a line consists of ("**B: right**", "(C)", "Right."), else None."""
        s = self.canon(self.mark_letters(line, lead=True), numbers=True)
        s = re.sub(r" (?:option|choice|final|answer|the|is|[.,;:()!]) ", " ", s)
        s = re.sub(r" (?:option|choice|final|answer|the|is|[.,;:()!]) ", " ", s)  # overlapping neighbours
        words = s.split()
        if not words:
            return None
        if self.letters and words[0].startswith("@") and len(words[0]) == 2 and words[0][1].upper() in self.keys:
            key = words[0][1].upper()
            rest = " " + " ".join(words[1:]) + " "
            if rest.strip() and self.text_mentions(rest) != [(1, len(rest) - 1, self.group[key])]:
                return None
            return key
        found = self.text_mentions(s)
        if len(found) == 1 and found[0][0] == 1 and found[0][1] == len(s) - 1:
            return self.first_of[found[0][2]]
        return None


def _literal(text: str) -> str:
    """Like `_canon` without variants or number words."""
    return " " + " ".join(_separate(text.lower()).split()) + " "


def _direction_core(canon: str) -> str | None:
    """"to the right" / "moving left" -> "right" / "left" (filler words, then one direction)."""
    words = canon.split()
    if len(words) < 2 or words[-1] not in _WORDS["directions"]:
        return None
    if all(w in _WORDS["direction_fillers"] for w in words[:-1]):
        return words[-1]
    return None


_CHOICES_CACHE: dict[tuple, _Choices] = {}


def _choices(options: dict[str, Any], letters: bool) -> _Choices:
    """The compiled `_Choices` of an option set (values turned into text), cached by content."""
    key = (letters, *options, *options.values())
    c = _CHOICES_CACHE.get(key)
    if c is None:
        if len(_CHOICES_CACHE) > 8192:
            _CHOICES_CACHE.clear()
        c = _CHOICES_CACHE[key] = _Choices(_as_text(options), letters)
    return c


def compiled_choices(options: dict[str, Any], letters: bool = True) -> _Choices:
    """The compiled option set that `extract_choice(text, options, letters=letters)` reads with
    (for `extract_compiled`); its `group` maps each key to its option's normalized text, so two
    keys name the same option text when their groups are equal (`same_option`)."""
    return _choices(_as_text(options), letters)


def same_option(options: dict[str, Any], a: Any, b: Any) -> bool:
    """Whether option keys `a` and `b` name options with the same text (normalize_text), as when a
    question repeats a choice text (VLM4D real_mc validation_633)."""
    if a not in options or b not in options:
        return False
    group = _choices(_as_text(options), True).group
    return group[a] == group[b]


def _as_text(opts: dict[str, Any]) -> dict[str, str]:
    for v in opts.values():
        if type(v) is not str:
            return {k: str(v) for k, v in opts.items()}
    return opts
