"""The fast scoring path against a straightforward reference, on a varied set.

`qa4d score` takes shortcuts for speed (extraction shortcuts, scored.jsonl lines written without
`dataclasses.asdict`, group statistics from arrays, a value-count bootstrap for large groups, and
the streamed path: lines written as items are scored, multiple-choice lines from their parts,
short responses read once per options, metrics from per-item columns). Each is checked here
against the plain way of doing the same thing, written out in the test."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from qa4d.answers import choices as C
from qa4d.answers import statements as S
from qa4d.bench import extract as E
from qa4d.bench import metrics as M
from qa4d.bench.registry import get_benchmark
from qa4d.bench.score_stream import score_to_files
from qa4d.bench.scoring import json_safe, resolve_prediction_ids, score_item, score_responses, write_score_outputs
from qa4d.bench.types import Extraction, ScoredItem
from tests.bench.scoring_fixtures import VLM4D_DIR, make_multispa, make_qa4d_split

REASONING = ("Looking at the frames in order, the object starts near the middle and ends near the edge; "
             "the background does not move, so the camera is steady. ")


def _styles(L, text, other):
    return [
        L, f"{L}.", f"({L}) {text}", f"**{L}**: {text}", f"The answer is {L}.", text, f"Answer: {L}",
        f"{REASONING}Therefore, the final answer is: {L}",
        f"{REASONING}\n\nTherefore, the final answer is: {L}: {text}.",
        f"{REASONING}At first the final answer is: {other}. On reflection, the final answer is: {L}",
        f"{REASONING}\nTherefore, the final answer is: $\\boxed{{{L}}}$",
        f"{REASONING}\nTherefore, the final answer is: {text}",
        f"{REASONING}Therefore, the final answer is: {L} or {other}",
        f"{REASONING}Therefore, the final answer is: cannot be determined.",
        f"{REASONING}Therefore, the final answer is: $LETTER",
        f"<think>{REASONING}Maybe {other}.</think>\n<answer>{L}</answer>",
        f"Option {other} says one thing. Option {L} says another.\nOption {L} is correct.",
        f"A: first - no.\nB: second - no.\nC: third - no.\nD: fourth - no.\n\n**{L}: {text}**",
        f"It could be {other}, but after checking again I choose {L}.",
        f"{text.upper()}!", f"Final Answer:\n{L}", f"{REASONING}I am not able to tell.", "",
        f"{REASONING}Therefore, the final answer is: Answer: {L}\nanswer: {other}",
    ]


@pytest.fixture(scope="module")
def varied():
    """(benchmark, items, responses, errors) over VLM4D (every style on every item), a qa4d split
    (mc, yes/no, free text, tracks) and MultiSPA (numbers, vectors, coordinates)."""
    b = get_benchmark("vlm4d")()
    items = b.load(VLM4D_DIR)
    if len(items) > 200:  # the published files: every 8th question and the one repeating a choice text
        items = [it for i, it in enumerate(items) if i % 8 == 0 or it.id == "real_mc/validation_633"]
    responses, errors = {}, {}
    rng = np.random.default_rng(3)
    for i, it in enumerate(items):
        keys = list(it.options)
        for j, resp in enumerate(_styles(keys[i % 4], str(it.options[keys[i % 4]]), keys[(i + 1) % 4])):
            responses[f"{it.id}#{j}"] = resp
        if rng.random() < 0.1:
            errors[it.id] = "HTTP 500"
    return b, items, responses, errors


def _general_reading():
    S._QUICK = False
    C._CHOICES_CACHE.clear()


def _quick_reading():
    S._QUICK = True
    C._CHOICES_CACHE.clear()


def test_extraction_shortcuts_agree_with_the_general_reading(varied):
    b, items, responses, _ = varied
    pairs = [(resp, it) for it in items for k, resp in responses.items() if k.startswith(it.id + "#")]
    assert len(pairs) > 1000
    try:
        _quick_reading()
        quick = [E.extract(r, it) for r, it in pairs]
        _general_reading()
        general = [E.extract(r, it) for r, it in pairs]
    finally:
        _quick_reading()
    assert quick == general
    rules = {e.rule for e in quick}
    assert {"final_answer", "answer_tag", "leading_letter", "answer_colon", "option_text", "last_line",
            "last_letter", "unparsed"} <= rules


def test_compiled_option_sets_read_as_the_general_reading(varied):
    """The scorer's path (one compiled set per options dict, `extract_compiled`, option texts'
    canonical forms kept across sets) gives what `extract_choice` gives with every shortcut off."""
    b, items, responses, _ = varied
    pairs = [(resp, it) for it in items for k, resp in responses.items() if k.startswith(it.id + "#")]
    try:
        _quick_reading()
        C._OPTION_CANON.clear()
        compiled = [C.extract_compiled(r, C.compiled_choices(it.options)) for r, it in pairs]
        _general_reading()
        general = [C.extract_choice(r, it.options) for r, it in pairs]
    finally:
        _quick_reading()
    assert compiled == general
    assert sum(e.value is not None for e in compiled) > len(compiled) // 2


def _reference_rows(bench, items, responses, errors):
    """scored.jsonl the plain way: general extraction, the scorer's criteria written out,
    json.dumps(json_safe(dataclasses.asdict(...)))."""
    rows, scored = [], []
    for it in items:
        accuracy_style = it.answer_format in ("mc", "yesno", "free", "scalar", "vector", "coord")
        groups = bench.groupings(it)
        r = responses.get(it.id)
        if r is None:
            err = errors.get(it.id)
            s = ScoredItem(id=it.id, task=it.task, correct=False if accuracy_style else None, score=0.0,
                           extracted=None, rule="error" if err is not None else "missing", answer=it.answer,
                           groups=groups, error=err)
        else:
            ex = E.extract(r, it)
            if it.answer_format == "mc":
                opts = it.options
                ok = ex.value is not None and (ex.value == it.answer or (
                    ex.value in opts and E.normalize_text(opts[ex.value]) == E.normalize_text(opts[it.answer])))
                correct, score, extra = bool(ok), float(ok), {}
            else:
                correct, score, extra = score_item(it, ex)
            if ex.text:
                extra = {**extra, "span": ex.text[:200]}
            s = ScoredItem(id=it.id, task=it.task, correct=correct, score=score, extracted=ex.value, rule=ex.rule,
                           answer=it.answer, groups=groups, judged=False, extra=extra)
        scored.append(s)
        rows.append(json.dumps(json_safe(dataclasses.asdict(s)), ensure_ascii=False, allow_nan=False))
    return rows, scored


def _one_response_each(items, responses, shift):
    out = {}
    for i, it in enumerate(items):
        keys = sorted(k for k in responses if k.startswith(it.id + "#"))
        if keys:
            out[it.id] = responses[keys[(i + shift) % len(keys)]]
    return out


@pytest.mark.parametrize("shift", [0, 7, 13])
def test_scored_lines_and_metrics_match_the_reference(varied, tmp_path, shift):
    b, items, responses, errors = varied
    chosen = _one_response_each(items, responses, shift)
    for k in list(chosen)[::9]:
        del chosen[k]  # missing, or an error where one was recorded
    scored, metrics = score_responses(b, items, chosen, {k: v for k, v in errors.items() if k not in chosen})
    write_score_outputs(tmp_path, scored, metrics)
    try:
        _general_reading()
        ref_rows, ref_scored = _reference_rows(b, items, chosen, errors)
    finally:
        _quick_reading()
    assert (tmp_path / "scored.jsonl").read_text(encoding="utf-8").splitlines() == ref_rows
    _check_group(metrics["overall"], ref_scored, items)
    for task in {it.task for it in items}:
        _check_group(metrics["by_task"][task], [s for s in ref_scored if s.task == task], items)
    for name in ("real", "synthetic", "ego-centric", "exo-centric", "synthetic false-positive"):
        _check_group(metrics["by_group"][name], [s for s in ref_scored if name in s.groups.values()], items)


def _check_group(got, rows, items):
    opts = {it.id: it.options for it in items}
    scores = [r.score for r in rows]
    assert got["n"] == len(rows)
    assert got["accuracy"] == float(np.mean(scores))  # the same numbers, exactly
    assert got["correct"] == sum(1 for r in rows if r.correct)
    for key, rule in (("unparsed", "unparsed"), ("errors", "error"), ("missing", "missing")):
        assert got[key] == sum(1 for r in rows if r.rule == rule)
    assert got["chance"] == float(np.mean([1 / len(opts[r.id]) for r in rows]))


def _other_format_cases(tmp_path):
    """(qa4d benchmark, its items, the true answers as replies (one unreadable), multispa
    benchmark, its items): every answer format beside multiple choice."""
    split = make_qa4d_split(tmp_path / "q")
    qb = get_benchmark("qa4d")()
    items = qb.load(split)
    responses = {it.id: (json.dumps(it.meta["track"]) if it.answer_format == "track" else it.answer) for it in items}
    responses[items[0].id] = "I think the final answer is: B or C"
    ms = get_benchmark("multispa")()
    return qb, items, responses, ms, ms.load(make_multispa(tmp_path / "ms"))


def test_non_choice_formats_write_the_same_lines(tmp_path):
    qb, items, responses, ms, m_items = _other_format_cases(tmp_path)
    m_resp = {it.id: f"`{it.answer}`" for it in m_items}
    for bench, its, resp in ((qb, items, responses), (ms, m_items, m_resp)):
        scored, metrics = score_responses(bench, its, resp)
        out = tmp_path / bench.name
        write_score_outputs(out, scored, metrics)
        ref_rows, _ = _reference_rows(bench, its, resp, {})
        assert (out / "scored.jsonl").read_text(encoding="utf-8").splitlines() == ref_rows


def _itemwise_bootstrap(s, n_resamples, seed, alpha=0.05):
    """The percentile bootstrap drawn item by item (the method for small groups)."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, 2_000_000 // s.size))
    means = np.concatenate([s[rng.integers(0, s.size, size=(min(chunk, n_resamples - i), s.size))].mean(axis=1)
                            for i in range(0, n_resamples, chunk)])
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def test_small_groups_keep_the_item_by_item_bootstrap():
    s = (np.random.default_rng(1).random(700) < 0.4).astype(float)
    assert M.bootstrap_ci(s, seed=4) == _itemwise_bootstrap(s, 1000, 4)


@pytest.mark.parametrize("values,p", [((0.0, 1.0), (0.37, 0.63)), ((0.0, 0.3, 0.5, 1.0), (0.4, 0.2, 0.1, 0.3))])
def test_value_count_bootstrap_draws_the_same_distribution(values, p):
    # 30,000 items: above the item-by-item limit, so drawn as multinomial value counts. The two
    # bootstraps agree to within their own Monte-Carlo error (1000 resamples each; the spread of a
    # 2.5% quantile is about 0.15 standard errors of the mean).
    s = np.random.default_rng(2).choice(np.array(values), size=30_000, p=np.array(p))
    assert s.size * 1000 > M.EXACT_BOOTSTRAP_DRAWS
    se = s.std() / math.sqrt(s.size)
    lo, hi = M.bootstrap_ci(s, seed=0)
    ref_lo, ref_hi = _itemwise_bootstrap(s, 1000, 0)
    assert abs(lo - ref_lo) < 0.3 * se and abs(hi - ref_hi) < 0.3 * se
    assert lo < s.mean() < hi
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.1)


def test_random_text_never_breaks_extraction_and_shortcuts_agree():
    # pieces of answers, markup, non-ASCII (İ changes length when lower-cased), stray markers
    import random
    import string

    rng = random.Random(11)
    pieces = ["Therefore, the final answer is: ", "<think>", "</think>", "<answer>", "</answer>", "Answer:",
              "Option ", "A", "B", "C", "D", "left", "right", "N/A", "$LETTER", "\\boxed{", "not ", "or ", "\n",
              "**", "counter-clockwise", "four", "İ", "@b ", "final answer\n", "is correct", " (B) ", "B: left"]
    alphabet = string.printable + "İıßﬁ’“”—–…\u00a0\u200b\x00éÅ<>$\\{}@"
    option_sets = [({"A": "not moving", "B": "left", "C": "right", "D": "towards the camera"}, True),
                   ({"A": 2, "B": 0, "C": 4, "D": 1}, True), ({"yes": "yes", "no": "no"}, False)]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) if rng.random() < 0.6 else
                       "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
                       for _ in range(rng.randint(0, 12)))
        for options, letters in option_sets:
            try:
                _quick_reading()
                quick = E.extract_choice(text, options, letters=letters)
                _general_reading()
                general = E.extract_choice(text, options, letters=letters)
            finally:
                _quick_reading()
            assert quick == general, text
            assert quick.value is None or quick.value in options


def test_rule_1_is_skipped_only_for_replies_without_a_statement():
    """`_may_state` lets the reader skip rule 1; wherever it says no, `_statements` (rule 1's full
    search) must find nothing, on replies built around the keyword "answer" with every kind of
    character before it (whitespace of several kinds, markup, tags, letters)."""
    import itertools

    c = C.compiled_choices({"A": "left", "B": "right", "C": "not moving", "D": "up"})
    befores = ["", " ", "\n", "\t", "\u00a0", "\u2003", "*", "**", "<", "</", "x", "the ", "final ", "is the best ",
               "B is the right ", "my\u00a0", "(", "'", "\u3000"]
    afters = ["", ": B", " is B", ":** C", "> D</answer>", " would be: left", " - right", "\nB"]
    skipped = 0
    for before, after, tail in itertools.product(befores, afters, ["", " Answer: C", " correct", "<answer>A</answer>"]):
        for text in (before + "answer" + after + tail, before + "ANSWER" + after + tail):
            low = text.lower()
            if not C._may_state(low):
                skipped += 1
                assert C._statements(text, low) == [], text
                S._QUICK = False
                try:
                    general = C.extract_compiled(text, c)
                finally:
                    S._QUICK = True
                assert C.extract_compiled(text, c) == general, text
    assert skipped > 50


def test_letter_replies_read_once_read_as_the_general_reading():
    """A short reply that opens with a capital letter is read once for every option set
    (`choices._letter_reply`); in each set it must give what the general reading gives: sets
    with and without that letter, lower-case keys, option texts a reply repeats, "A" as an
    article or as option A's text, a second letter (a walk), markup, tags and statements."""
    import itertools

    sets = [{"A": "left", "B": "right", "C": "not moving", "D": "up"}, {"A": "a car", "B": "b", "C": "C"},
            {"A": "3 times", "B": "twice"}, {"a": "left", "b": "right"}, {"B": "left", "C": "right", "E": "up"}]
    heads = ["B", "A", "C", "E", "(B)", "**C**", "B.", "A)", "[D]", " B ", "B:", "b"]
    tails = ["", " left", " right", " car", " a car", ". C is wrong", " - answer: C", " <answer>C</answer>",
             " option C", " not B", " twice", "\nthe answer is C", " moves left", "!", " İ"]
    seen = 0
    for head, tail in itertools.product(heads, tails):
        text = head + tail
        for options in sets:
            try:
                _quick_reading()
                C._LETTER_REPLIES.clear()
                fast = [C.extract_compiled(text, C.compiled_choices(options)) for _ in range(2)]  # read, then kept
                seen += C._LETTER_REPLIES.get(text) is not None
                _general_reading()
                general = C.extract_choice(text, options)
            finally:
                _quick_reading()
            assert fast[0] == fast[1] == general, (text, options)
    assert seen > 100


def test_final_statements_found_once_per_tail_read_as_the_general_reading():
    """`choices._last_statement` finds a statement once per tail of the reply (from 17 characters
    before its last "answer"); replies that share a tail but differ before it (a head word cut at
    the tail's edge, "is" and "this", a capital sigma, which lower-cases by context) must each
    read as the general reading reads them."""
    import itertools

    sets = [{"A": "left", "B": "right", "C": "not moving", "D": "up"}, {"A": "right", "B": "left"}]
    befores = ["", "So ", "Well, so ", "Looking at it all. Therefore, ", "ΣΣ. therefore ", "x" * 40 + " my ",
               "this ", "It is the ", "In short, the final ", "Overall, the correct ", "\n\nFinal ", "the best",
               "xfinal "] + [f"So {x}{w}" + " " * k for x in ("x", "") for w in ("final", "the", "my") for k in range(1, 15)]
    tails = ["final answer is: B", "answer is: C.", "answer: left", "answer is B or C", "answer would be: N/A",
             "answer is: $LETTER", "answer is\n\n**B**", "answer is: ΣΣ", "answer is: the car", "answer:\nright"]
    for (before, tail), options in itertools.product(itertools.product(befores, tails), sets):
        text = before + tail
        try:
            _quick_reading()
            fast = [C.extract_compiled(text, C.compiled_choices(options)) for _ in range(2)]
            _general_reading()
            general = C.extract_choice(text, options)
        finally:
            _quick_reading()
        assert fast[0] == fast[1] == general, (text, options)
    assert len(C._TAILS) > 50


# ----------------------------------------------------------------------------- the streamed path

def _streamed(bench, items, responses, errors, out, **kw):
    """`qa4d score`'s path: predictions resolved, then score_to_files over an iterator."""
    res = resolve_prediction_ids(bench, items, responses, errors)
    return score_to_files(bench, iter(list(items)), res, out, **kw)


@pytest.mark.parametrize("shift", [0, 5])
def test_streamed_scoring_writes_the_bytes_of_the_plain_path(varied, tmp_path, shift):
    """score_to_files (direct multiple-choice lines, columns, memoised short responses) against
    score_responses + write_score_outputs and the reference rows, with errors and missing items."""
    b, items, responses, errors = varied
    chosen = _one_response_each(items, responses, shift)
    for k in list(chosen)[::7]:
        del chosen[k]
    errs = {k: v for k, v in errors.items() if k not in chosen}
    streamed = _streamed(b, items, chosen, errs, tmp_path / "s")
    scored, metrics = score_responses(b, items, chosen, errs)
    write_score_outputs(tmp_path / "p", scored, metrics)
    for f in ("scored.jsonl", "metrics.json"):
        assert (tmp_path / "s" / f).read_bytes() == (tmp_path / "p" / f).read_bytes(), f
    assert streamed == metrics
    try:
        _general_reading()
        ref_rows, ref_scored = _reference_rows(b, items, chosen, errs)
    finally:
        _quick_reading()
    assert (tmp_path / "s" / "scored.jsonl").read_text(encoding="utf-8").splitlines() == ref_rows
    _check_group(streamed["overall"], ref_scored, items)
    assert streamed["overall"]["errors"] > 0 and streamed["overall"]["missing"] > 0


def test_streamed_scoring_with_guess_and_judge_and_repeated_short_answers(varied, tmp_path):
    b, items, _, _ = varied
    # the same short answers over and over (the memo), unparsed ones, long ones
    pool = ["B", "(C)", "no idea", "Answer: D", "left", "I cannot tell.", "A" * 70, "B or C"]
    responses = {it.id: pool[i % len(pool)] for i, it in enumerate(items)}

    def judge(item, response):
        return Extraction(item.answer, "judge", "judged") if len(response) % 2 else None

    for kw in ({"guess": True, "seed": 3}, {"judge": judge}, {}):
        streamed = _streamed(b, items, responses, {}, tmp_path / "s", **kw)
        scored, metrics = score_responses(b, items, responses, **kw)
        write_score_outputs(tmp_path / "p", scored, metrics)
        for f in ("scored.jsonl", "metrics.json"):
            assert (tmp_path / "s" / f).read_bytes() == (tmp_path / "p" / f).read_bytes(), (f, kw)
        assert streamed == metrics
    assert metrics["overall"]["unparsed"] > 0


def test_streamed_scoring_of_the_other_formats(tmp_path):
    """Yes/no, free text, point tracks (TAP-Vid sub-metrics), numbers, vectors and coordinates take
    the general path; the bytes are the plain path's."""
    qb, items, responses, ms, m_items = _other_format_cases(tmp_path)
    m_resp = {it.id: f"`{it.answer}`" for it in m_items[1:]}
    assert {it.answer_format for it in items} >= {"mc", "yesno", "track"}
    for bench, its, resp in ((qb, items, responses), (ms, m_items, m_resp)):
        streamed = _streamed(bench, its, resp, {}, tmp_path / bench.name / "s")
        scored, metrics = score_responses(bench, its, resp)
        write_score_outputs(tmp_path / bench.name / "p", scored, metrics)
        for f in ("scored.jsonl", "metrics.json"):
            assert (tmp_path / bench.name / "s" / f).read_bytes() == (tmp_path / bench.name / "p" / f).read_bytes()
        assert streamed == metrics


def test_streamed_scoring_of_nothing(tmp_path):
    b = get_benchmark("vlm4d")()
    items = b.load(VLM4D_DIR)[:3]
    streamed = _streamed(b, [], {}, {}, tmp_path / "s")
    scored, metrics = score_responses(b, [], {})
    write_score_outputs(tmp_path / "p", scored, metrics)
    assert (tmp_path / "s" / "scored.jsonl").read_bytes() == b""
    assert (tmp_path / "s" / "metrics.json").read_bytes() == (tmp_path / "p" / "metrics.json").read_bytes()
    assert streamed["overall"]["n"] == 0 and items
