"""Blind baselines of the bias audit: answer without the images, fitted on train, scored on bench.

Each baseline returns, per bench item, whether it was right and the chance of being right by luck,
for the exact tests of `audit_stats`. A baseline may use anything of the train split and the bench
item's text, never a bench answer; ties are broken by a hash of (record id, letter), which carries
no information about the answer, so under "no bias" every hit is an independent Bernoulli(chance).

- position (mc): the letter most often correct in train.
- prior (mc): the option text most often correct *when offered* in train (smoothed rate);
  (yes/no): the train majority answer.
- text (mc): a Bernoulli naive Bayes over features of each option that can tell options apart:
  its words ("opt:w"), its words crossed with the question's words ("q:u x opt:w") and its length,
  trained as correct / wrong option, scoring every option of a bench item and picking the best;
  (yes/no): a multinomial naive Bayes over the question's word unigrams and bigrams -> yes / no.

- numeric_rank (mc whose options are numbers, one number each, all different): the option at
  the rank among the options' values (smallest, 2nd smallest, ..., largest) most often correct in
  train for items with as many options. A ladder of distractors that always puts the answer in the
  middle is a shortcut no letter-position test sees.

- rank (mc with numeric options, every rank, one-sided): is the answer the option at that rank
  more often than 1 / options, over all items of the task (train and bench)? Nothing is fitted.

- word (mc, every option word of a task, two-sided): how often the correct option holds the word,
  over all items of the task (train and bench) where some but not all options hold it, against
  chance (options holding it / options). Nothing is fitted: every word is tested, and the
  multiple-testing correction pays for the choice. It names a planted word directly.
  (yes/no, every question word, two-sided): how often the answer is "yes" over all items of the
  task whose question holds the word, against 1/2.

Free and track answers are not scored.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any, Callable

import numpy as np

from qa4d.answers import formats
from qa4d.answers.free import closed_choices
from qa4d.answers.statements import normalize_text
from qa4d.engine.audit_stats import BiasTest

_WORD = re.compile(r"[a-z0-9]+")
Record = dict[str, Any]


def _tiebreak(rid: str, letter: str) -> int:
    """A fixed pseudo-random rank of (record, letter), independent of which letter is correct."""
    return int.from_bytes(hashlib.sha256(f"{rid}|{letter}".encode()).digest()[:8], "big")


def _pick(r: Record, score: Callable[[str], float]) -> str:
    """The letter with the highest score; ties by `_tiebreak`."""
    rid = str(r.get("id", ""))
    return max(sorted(r["options"]), key=lambda L: (score(L), _tiebreak(rid, L)))


def _mc_test(task: str, baseline: str, bench: list[Record], pick: Callable[[Record], str],
             details: dict[str, Any]) -> BiasTest:
    hits = [pick(r) == r["answer"] for r in bench]
    return BiasTest(task, "mc", baseline, hits, [1.0 / len(r["options"]) for r in bench], details)


def words(text: str) -> list[str]:
    """Lower-cased words of `text`, pure numbers left out (frame indices and coordinates are drawn
    per sample: on a small train split their chance correlations only add noise)."""
    return [t for t in _WORD.findall(text.lower()) if not t.isdigit()]


def text_features(text: str, prefix: str = "") -> list[str]:
    """Lower-cased word unigrams and bigrams of `text` (numbers left out), each prefixed with `prefix`."""
    toks = words(text)
    return [prefix + t for t in toks] + [f"{prefix}{a} {b}" for a, b in zip(toks, toks[1:])]


# -- position and answer-text prior -------------------------------------------------------------------

def position_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    """mc: always the letter most often correct in train (ties: the earliest letter)."""
    counts = Counter(r["answer"] for r in train)
    best = min(counts, key=lambda L: (-counts[L], L)) if counts else "A"
    return _mc_test(task, "position", bench, lambda r: _pick(r, lambda L: float(L == best)),
                    {"letter": best, "train_counts": dict(sorted(counts.items()))})


def prior_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    """mc: the option text with the highest rate of being correct when offered in train,
    (correct + 1) / (offered + 2), so a text never seen scores 1/2 and one offered often but never
    right scores low."""
    offered, correct = Counter(), Counter()
    for r in train:
        for L, text in r["options"].items():
            offered[text] += 1
            correct[text] += L == r["answer"]
    rate = {t: (correct[t] + 1) / (offered[t] + 2) for t in offered}

    def pick(r: Record) -> str:
        return _pick(r, lambda L: rate.get(r["options"][L], 0.5))

    top = sorted(rate, key=lambda t: (-rate[t], t))[:5]
    return _mc_test(task, "prior", bench, pick,
                    {"top_texts": [[t, correct[t], offered[t]] for t in top]})


def yesno_prior_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    """yes/no: the train majority (ties: "yes")."""
    counts = Counter(r["answer"] for r in train)
    majority = "yes" if counts["yes"] >= counts["no"] else "no"
    return BiasTest(task, "yesno", "prior", [r["answer"] == majority for r in bench], [0.5] * len(bench),
                    {"majority": majority, "train_counts": {"no": counts["no"], "yes": counts["yes"]}})


def closed_free_prior_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    """Free answers from a closed set (meta.choices, e.g. MultiSPA's 'left' or 'right'): the train
    majority (ties: the first in sorted order), chance 1/K. Open answers have no chance level and
    are left out."""
    counts = Counter(normalize_text(r["answer"]) for r in train if closed_choices(r.get("meta")))
    majority = min(counts, key=lambda a: (-counts[a], a)) if counts else ""
    be = [(r, n) for r in bench if (n := len(closed_choices(r.get("meta"))))]  # n: how many answers
    return BiasTest(task, "free", "prior", [normalize_text(r["answer"]) == majority for r, _ in be],
                    [1.0 / n for _, n in be],
                    {"majority": majority, "train_counts": dict(sorted(counts.items()))})


# -- numeric rank --------------------------------------------------------------------------------------

_NUMBER_OPTION = re.compile(r"\s*([-+\u2212]?[0-9]+(?:\.[0-9]+)?)(?:\s*[^\s0-9]+){0,2}\s*")


def option_number(text: str) -> float | None:
    """The number an option is: a number, optionally followed by a unit of at most two words
    ('1.25 s' -> 1.25, '-0.40 m/s²' -> -0.4, '3' -> 3.0, '12 cm' -> 12.0); None for any other text
    (a 3D box, '[396, 809]', 'the cube in frame 2')."""
    m = _NUMBER_OPTION.fullmatch(text)
    return float(m.group(1).replace("\u2212", "-")) if m else None


def option_ranks(r: Record) -> dict[str, int] | None:
    """Per letter the rank of its option's value among the item's options (0 = smallest), or None
    when some option is not a single number or two options state the same value."""
    values = {L: option_number(t) for L, t in r["options"].items()}
    if len(values) < 2 or any(v is None for v in values.values()) or len(set(values.values())) < len(values):
        return None
    order = sorted(values, key=lambda L: values[L])
    return {L: i for i, L in enumerate(order)}


def rank_name(rank: int, k: int) -> str:
    """'smallest', '2nd smallest', 'median' (odd k), '2nd largest', 'largest' of k options."""
    if k % 2 and rank == k // 2:
        return "median"
    if rank < k / 2:
        return "smallest" if rank == 0 else f"{_ordinal(rank + 1)} smallest"
    top = k - rank
    return "largest" if top == 1 else f"{_ordinal(top)} largest"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def numeric_rank_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    """mc with numeric options: per option count k, the rank most often correct in train (ties: the
    smallest rank); scored on the bench items whose options are numbers. A bench item whose k was
    never seen in train is answered by the hash tie-break (chance)."""
    counts: dict[int, Counter[int]] = {}
    for r in train:
        ranks = option_ranks(r)
        if ranks is not None:
            counts.setdefault(len(ranks), Counter())[ranks[r["answer"]]] += 1
    best = {k: min(c, key=lambda i: (-c[i], i)) for k, c in counts.items()}
    items = [(r, ranks) for r in bench if (ranks := option_ranks(r)) is not None]

    def pick(r: Record, ranks: dict[str, int]) -> str:
        want = best.get(len(ranks))
        return _pick(r, lambda L: float(ranks[L] == want))

    hits = [pick(r, ranks) == r["answer"] for r, ranks in items]
    chances = [1.0 / len(ranks) for _, ranks in items]
    details = {"rank": {str(k): rank_name(i, k) for k, i in sorted(best.items())},
               "train_counts": {str(k): {rank_name(i, k): c[i] for i in sorted(c)} for k, c in sorted(counts.items())}}
    return BiasTest(task, "mc", "numeric_rank", hits, chances, details)


def rank_tests(task: str, records: list[Record]) -> list[BiasTest]:
    """mc with numeric options: one test per (option count k, rank): is the answer the option at that
    rank more often than 1/k, over all the task's items (train and bench) whose options are numbers?
    Nothing is fitted (the numeric-rank twin of the option-word test). One-sided: the k ranks split
    the items, so a rank that is too rarely right leaves another too often right, which is the one
    reported."""
    hits: dict[tuple[int, int], list[bool]] = {}
    for r in records:
        ranks = option_ranks(r) if r["answer_format"] == "mc" else None
        if ranks is None:
            continue
        k, answer = len(ranks), ranks[r["answer"]]
        for i in range(k):
            hits.setdefault((k, i), []).append(answer == i)
    return [BiasTest(task, "mc", "rank", h, [1.0 / k] * len(h), {"rank": rank_name(i, k), "options": k})
            for (k, i), h in sorted(hits.items())]


# -- text: mc options -----------------------------------------------------------------------------------

def option_features(question: str, option: str) -> set[str]:
    """Features of one option: its words, its words crossed with the question's, its length bucket."""
    ow, qw = sorted(set(words(option))), sorted(set(words(question)))
    feats = {f"opt:{w}" for w in ow} | {f"q:{u} x opt:{w}" for u in qw for w in ow}
    feats.add(f"len:{min(len(_WORD.findall(option)), 6)}")
    return feats


def item_features(r: Record) -> dict[str, set[str]]:
    """Per letter the option's features, minus those every option of the item shares (they cannot
    tell options apart)."""
    feats = {L: option_features(r["question"], r["options"][L]) for L in sorted(r["options"])}
    common = set.intersection(*feats.values()) if feats else set()
    return {L: f - common for L, f in feats.items()}


class OptionNaiveBayes:
    """Bernoulli naive Bayes of "this option is the correct one" over binary option features.

    Fitted on rows (features of one option, correct?) with add-alpha smoothing:
    theta_c(f) = (a_f + alpha) / (A + 2 alpha), theta_w(f) = (b_f + alpha) / (B + 2 alpha), a_f / b_f
    the correct / wrong rows holding f, A / B the correct / wrong rows. An option scores the sum of
    w_f = logit theta_c(f) - logit theta_w(f) over its features (the Bernoulli log-likelihood ratio
    up to a term shared by all options); unseen features weigh 0. Deterministic.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if alpha <= 0:
            raise ValueError(f"OptionNaiveBayes: alpha must be > 0, got {alpha}")
        self.alpha = alpha
        self.a: Counter[str] = Counter()
        self.b: Counter[str] = Counter()
        self.A = self.B = 0
        self.weight: dict[str, float] = {}

    def fit(self, rows: list[tuple[set[str], bool]]) -> "OptionNaiveBayes":
        for feats, correct in rows:
            (self.a if correct else self.b).update(feats)
            if correct:
                self.A += 1
            else:
                self.B += 1
        al = self.alpha

        def logit(x: float) -> float:
            return float(np.log(x) - np.log1p(-x))

        for f in sorted(set(self.a) | set(self.b)):
            tc = (self.a[f] + al) / (self.A + 2 * al)
            tw = (self.b[f] + al) / (self.B + 2 * al)
            self.weight[f] = logit(tc) - logit(tw)
        return self

    def score(self, feats: set[str]) -> float:
        return sum(self.weight.get(f, 0.0) for f in sorted(feats))

    def leading(self, k: int = 5, min_count: int = 3) -> list[dict[str, Any]]:
        """The k features (in >= min_count train rows) that most favour the correct option:
        strongest weight first; of equal weights, a plain option word before a crossed feature before a
        length."""
        cands = [f for f in self.weight if self.a[f] + self.b[f] >= min_count and self.weight[f] > 0]
        cands.sort(key=lambda f: (-round(self.weight[f], 9), f.startswith("len:"), " x " in f, -(self.a[f] + self.b[f]), f))
        return [{"feature": pretty(f), "weight": round(self.weight[f], 3), "in_correct": self.a[f], "correct_rows": self.A,
                 "in_wrong": self.b[f], "wrong_rows": self.B} for f in cands[:k]]


def pretty(feature: str) -> str:
    """'opt:clearly' -> 'clearly'; 'q:which x opt:clearly' -> 'which x clearly'; 'len:3' -> '3 words'."""
    if feature.startswith("len:"):
        n = feature[4:]
        return f"{n}{'+' if n == '6' else ''} words"
    return feature.replace("q:", "").replace("opt:", "")


def mc_text_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    rows = [(f, L == r["answer"]) for r in train for L, f in item_features(r).items()]
    nb = OptionNaiveBayes().fit(rows)

    def pick(r: Record) -> str:
        feats = item_features(r)
        return _pick(r, lambda L: nb.score(feats[L]))

    return _mc_test(task, "text", bench, pick, {"leading_features": nb.leading()})


# -- text: yes/no questions -----------------------------------------------------------------------------

class NaiveBayes:
    """Multinomial naive Bayes over string features with Laplace (add-alpha) smoothing.

    fit(docs, labels): docs is a list of feature lists (a feature may repeat: counts add up).
    Classes are the sorted distinct labels; class priors are the train frequencies;
    P(f | c) = (count(f, c) + alpha) / (total(c) + alpha * V), V = number of distinct train features.
    Features never seen in train are ignored when scoring. Deterministic.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if alpha <= 0:
            raise ValueError(f"NaiveBayes: alpha must be > 0, got {alpha}")
        self.alpha = alpha
        self.classes: list[str] = []
        self.vocab: dict[str, int] = {}
        self.log_prior = np.zeros(0)
        self.log_lik = np.zeros((0, 0))
        self.counts = np.zeros((0, 0))

    def fit(self, docs: list[list[str]], labels: list[str]) -> "NaiveBayes":
        if len(docs) != len(labels) or not docs:
            raise ValueError(f"NaiveBayes.fit: need as many labels as docs, and at least one ({len(docs)} docs, {len(labels)} labels)")
        self.classes = sorted(set(labels))
        self.vocab = {f: i for i, f in enumerate(sorted({f for d in docs for f in d}))}
        ci = {c: i for i, c in enumerate(self.classes)}
        y = np.array([ci[c] for c in labels])
        counts = np.zeros((len(self.classes), len(self.vocab)))  # (C, V)
        rows = np.repeat(y, [len(d) for d in docs])
        cols = np.array([self.vocab[f] for d in docs for f in d], dtype=np.int64)
        np.add.at(counts, (rows, cols), 1.0)
        self.counts = counts
        self.log_prior = np.log(np.bincount(y, minlength=len(self.classes)) / len(y))  # (C,)
        smoothed = counts + self.alpha
        self.log_lik = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))  # (C, V)
        return self

    def log_posterior(self, docs: list[list[str]]) -> np.ndarray:
        """(N, C) normalised log posteriors, columns in `self.classes` order."""
        scores = np.tile(self.log_prior, (len(docs), 1))
        doc_ids = [n for n, d in enumerate(docs) for f in d if f in self.vocab]
        cols = [self.vocab[f] for d in docs for f in d if f in self.vocab]
        if cols:
            np.add.at(scores, np.array(doc_ids), self.log_lik[:, np.array(cols)].T)
        return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)

    def predict(self, docs: list[list[str]]) -> list[str]:
        """Most probable class per doc; ties go to the first class in sorted order."""
        return [self.classes[i] for i in np.argmax(self.log_posterior(docs), axis=1)]

    def leading_features(self, cls: str, k: int = 5, min_count: int = 3) -> list[list[Any]]:
        """The k features (seen >= min_count times in train) that most favour `cls` over the other
        classes: [feature, log-likelihood ratio, train count], strongest first."""
        if cls not in self.classes or not self.vocab:
            return []
        c = self.classes.index(cls)
        other = np.delete(self.counts, c, axis=0).sum(axis=0) + self.alpha
        other_ll = np.log(other) - np.log(other.sum())
        ratio = self.log_lik[c] - other_ll
        total = self.counts.sum(axis=0)
        names = sorted(self.vocab, key=self.vocab.get)
        order = sorted((i for i in range(len(names)) if total[i] >= min_count), key=lambda i: (-ratio[i], names[i]))
        return [[names[i], round(float(ratio[i]), 3), int(total[i])] for i in order[:k]]


def yesno_text_baseline(task: str, train: list[Record], bench: list[Record]) -> BiasTest:
    nb = NaiveBayes().fit([text_features(r["question"]) for r in train], [r["answer"] for r in train])
    pred = nb.predict([text_features(r["question"]) for r in bench])
    return BiasTest(task, "yesno", "text", [p == r["answer"] for p, r in zip(pred, bench)], [0.5] * len(bench),
                    {"leading_features": {c: nb.leading_features(c) for c in nb.classes}})


# -- single option words --------------------------------------------------------------------------------

def word_tests(task: str, records: list[Record]) -> list[BiasTest]:
    """One two-sided test per option word of a task's mc records (see the module docstring)."""
    hits: dict[str, list[bool]] = {}
    chances: dict[str, list[float]] = {}
    for r in records:
        if r["answer_format"] != "mc":
            continue
        opt = {L: set(words(t)) for L, t in r["options"].items()}
        k = len(opt)
        for w in sorted(set().union(*opt.values())):
            holding = sum(w in ws for ws in opt.values())
            if holding < k:
                hits.setdefault(w, []).append(w in opt[r["answer"]])
                chances.setdefault(w, []).append(holding / k)
    return [BiasTest(task, "mc", "word", hits[w], chances[w], {"word": w}, both_sides=True) for w in sorted(hits)]


def question_word_tests(task: str, records: list[Record]) -> list[BiasTest]:
    """yes/no: one two-sided test per question word of a task: how often the answer is "yes" over
    its train and bench items whose question holds the word (words every question holds are left
    out), against 1/2. A "hit" is a "yes"."""
    yn = [r for r in records if r["answer_format"] == "yesno"]
    qwords = [set(words(r["question"])) for r in yn]
    common = set.intersection(*qwords) if qwords else set()
    hits: dict[str, list[bool]] = {}
    for r, ws in zip(yn, qwords):
        for w in sorted(ws - common):
            hits.setdefault(w, []).append(r["answer"] == "yes")
    return [BiasTest(task, "yesno", "word", hits[w], [0.5] * len(hits[w]), {"word": w}, both_sides=True)
            for w in sorted(hits)]


# -- text baselines fitted over a whole family ---------------------------------------------------------

def family_text_tests(train: list[Record], bench: list[Record], families: list[str]) -> list[BiasTest]:
    """Per family and format (mc, yes/no) with at least two tasks: the text baseline fitted on all
    the family's train items of that format and scored on all its bench items (task "*"). A cue
    shared by the family's tasks (a word its templates put on every correct option, a wording used
    only for true statements) is learnt from every task's train items at once, where a per-task
    model sees a handful each."""
    out: list[BiasTest] = []
    for fam in families:
        for f in formats():
            entry, fmt = FORMAT_BIAS_TESTS.get(f.audit_baseline), f.name
            fn = entry[0].get("text") if entry else None
            if fn is None:
                continue
            tr = [r for r in train if r["family"] == fam and r["answer_format"] == fmt]
            be = [r for r in bench if r["family"] == fam and r["answer_format"] == fmt]
            if tr and be and len({r["task"] for r in tr + be}) > 1:
                t = fn("*", tr, be)
                t.family = fam
                out.append(t)
    return out


# -- all baselines of one task ----------------------------------------------------------------------------

MC_BASELINES = {"position": position_baseline, "prior": prior_baseline, "text": mc_text_baseline,
                "numeric_rank": numeric_rank_baseline}
YESNO_BASELINES = {"prior": yesno_prior_baseline, "text": yesno_text_baseline}

# The bias tests of each audit-baseline kind (`AnswerFormat.audit_baseline` in qa4d.answers says
# which kind a format gets): fitted baselines (train -> bench) and tests without fitting (train +
# bench). Kinds absent here get no bias test; numeric and free answers get the blind priors of
# `audit_numeric.AUDIT_PRIORS` instead.
FORMAT_BIAS_TESTS: dict[str, tuple[dict[str, Callable[..., BiasTest]], tuple[Callable[..., list[BiasTest]], ...]]] = {
    "options": (MC_BASELINES, (word_tests, rank_tests)),
    "yesno": (YESNO_BASELINES, (question_word_tests,)),
    "majority": ({"prior": closed_free_prior_baseline}, ()),  # free text: closed answer sets only
}
# The shortcut each test is about, by baseline: what a family's `audit_accepts` names. The rank
# test and the fitted numeric-rank baseline are two views of one shortcut.
SHORTCUT = {"position": "position", "prior": "prior", "text": "text", "numeric_rank": "numeric_rank",
            "rank": "numeric_rank", "word": "word"}
BASELINE_NAMES = sorted(set(SHORTCUT.values()))


def task_tests(task: str, train: list[Record], bench: list[Record], family: str = "") -> list[BiasTest]:
    """Every baseline of every scored format of one (family, task) (a format needs train and bench
    items), then its word tests over train and bench together."""
    out: list[BiasTest] = []
    for f in formats():  # formats whose registry entry names one of these kinds, in registry order
        entry, fmt = FORMAT_BIAS_TESTS.get(f.audit_baseline), f.name
        if entry is None:
            continue
        table, unfitted = entry
        tr = [r for r in train if r["answer_format"] == fmt]
        be = [r for r in bench if r["answer_format"] == fmt]
        if tr and be:
            out += [fn(task, tr, be) for fn in table.values()]
        for fn in unfitted:
            out += fn(task, tr + be)
    for t in out:
        t.family = family
    # a numeric-rank test without numeric options, or a free-text test without closed answer sets,
    # asked nothing: left out
    return [t for t in out if t.n or (t.baseline != "numeric_rank" and t.answer_format != "free")]
