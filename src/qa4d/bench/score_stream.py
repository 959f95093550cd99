"""Streamed scoring: every item's scored.jsonl line is written as soon as it is scored, and
metrics.json is computed from compact per-item columns, so memory does not grow with the run
beyond its inputs (the questions and the responses).

    score_to_files(bench, items, resolved, out_dir)   OUT/scored.jsonl + OUT/metrics.json, streamed
    ScoreColumns                                       what the metrics are made of, ~15 bytes an item
    summary(cols, ...)                                 metrics.json content from the columns

Per item the columns keep the score (float64), correct / judged (one byte each), the extraction
rule (counted; one byte says unparsed / error / missing / guessed) and one int32 "profile": the
item's (task, category, chance, groups), of which a run has only a few distinct ones. TAP-Vid
sub-metrics are kept for the items that have them (point tracks) only. `qa4d.bench.scoring.summarize`
builds the same columns from ScoredItems, so both paths give the same metrics.json.

The bytes are those of `scoring.score_resolved` + `scoring.write_score_outputs` (items scored by
`scoring.score_one`, lines by `scoring.scored_line`); tests/bench/test_score_reference.py checks it.
Multiple-choice responses of at most `MEMO_CHARS` characters (direct output: "B", "(C) left") are
read once per distinct (response, options) pair: extraction of a choice reads nothing else.
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from qa4d._io import atomic_file, dumps_json, write_text_atomic
from qa4d.answers.choices import compiled_choices, extract_compiled
from qa4d.bench import metrics as M
from qa4d.bench.types import BenchItem, Extraction, ScoredItem

__all__ = ["ScoreColumns", "summary", "score_to_files", "MEMO_CHARS"]

RULE_COUNTERS = (("unparsed", "unparsed"), ("errors", "error"), ("missing", "missing"), ("guessed", "random_guess"))
_RULE_CODE = {rule: i + 1 for i, (_, rule) in enumerate(RULE_COUNTERS)}
MEMO_CHARS = 64       # responses up to this length are memoised (direct output repeats; reasoning does not)
MEMO_ENTRIES = 16384  # the memo is cleared when it holds this many, so memory stays bounded


class ScoreColumns:
    """Per-item columns of a run, appended in item order (`add`)."""

    def __init__(self) -> None:
        self.score = array("d")
        self.correct = bytearray()
        self.judged = bytearray()
        self.rule_code = bytearray()          # _RULE_CODE of the rule, 0 for any other rule
        self.profile = array("i")             # index into `profiles`
        self.profiles: list[tuple] = []       # (task, category, chance, ((grouping, group), ...))
        self._profile_index: dict[tuple, int] = {}
        self.rules: dict[str, int] = {}       # extraction rule -> count
        self.tracks: dict[int, dict] = {}     # item index -> extra, for items with TAP-Vid metrics

    def __len__(self) -> int:
        return len(self.score)

    def profile_of(self, task: str, category: str | None, chance: float, groups: dict) -> int:
        """The profile code of an item (new profiles are numbered in order of first appearance)."""
        key = (task, category or None, chance, tuple(groups.items()))
        code = self._profile_index.get(key)
        if code is None:
            code = self._profile_index[key] = len(self.profiles)
            self.profiles.append(key)
        return code

    def add(self, profile: int, score: float, correct: Any, judged: bool, rule: str, extra: dict | None = None) -> None:
        if extra and "average_jaccard" in extra:
            self.tracks[len(self.score)] = extra
        self.score.append(score)
        self.correct.append(1 if correct else 0)
        self.judged.append(1 if judged else 0)
        self.rule_code.append(_RULE_CODE.get(rule, 0))
        self.profile.append(profile)
        self.rules[rule] = self.rules.get(rule, 0) + 1

    def add_scored(self, s: ScoredItem, category: str | None, chance: float) -> None:
        self.add(self.profile_of(s.task, category, chance, s.groups), s.score, s.correct, s.judged, s.rule, s.extra)


class _Arrays:
    """The columns as NumPy arrays, for the statistics of any subset of items."""

    def __init__(self, cols: ScoreColumns):
        n = len(cols)
        self.score = np.frombuffer(cols.score, dtype=np.float64) if n else np.zeros(0)
        self.correct = np.frombuffer(cols.correct, dtype=np.uint8).astype(bool)
        self.judged = np.frombuffer(cols.judged, dtype=np.uint8).astype(bool)
        code = np.frombuffer(cols.rule_code, dtype=np.uint8)
        self.rule = {key: code == _RULE_CODE[rule] for key, rule in RULE_COUNTERS}
        self.profile = np.frombuffer(cols.profile, dtype=np.int32) if n else np.zeros(0, dtype=np.int32)
        self.chance = np.array([p[2] for p in cols.profiles], dtype=np.float64)[self.profile] if n else np.zeros(0)
        self.track = np.zeros(n, dtype=bool)
        self.track[list(cols.tracks)] = True
        self.tracks = cols.tracks


def _group_stats(a: _Arrays, idx: np.ndarray | None, seed: int) -> dict[str, Any]:
    """Statistics of the items `idx` (all when None), in item order."""
    take = (lambda x: x) if idx is None else (lambda x: x[idx])
    scores = take(a.score)
    acc = M.accuracy(scores)
    chance = take(a.chance)
    ch = float(np.mean(chance)) if chance.size else 0.0
    lo, hi = M.bootstrap_ci(scores, seed=seed)
    out: dict[str, Any] = {
        "accuracy": acc,
        "n": int(scores.size),
        "correct": int(np.count_nonzero(take(a.correct))),
        "unparsed": int(np.count_nonzero(take(a.rule["unparsed"]))),
        "errors": int(np.count_nonzero(take(a.rule["errors"]))),
        "missing": int(np.count_nonzero(take(a.rule["missing"]))),
        "judged": int(np.count_nonzero(take(a.judged))),
        "guessed": int(np.count_nonzero(take(a.rule["guessed"]))),
        "ci95": [lo, hi],
        "chance": ch,
        "chance_adjusted": M.chance_adjusted_accuracy(acc, ch),
    }
    rows = np.flatnonzero(take(a.track))
    if rows.size:
        tracks = [a.tracks[int(i if idx is None else idx[i])] for i in rows]
        keys = [k for k in tracks[0] if isinstance(tracks[0][k], float)]
        out["tapvid"] = {k: float(np.nanmean([t.get(k, np.nan) for t in tracks])) for k in keys}
    return out


def _grouped(a: _Arrays, names: list, seed: int) -> dict[str, dict]:
    """Statistics per group name, in sorted name order; `names[p]` is the group of profile p (None:
    in no group). Each group's items stay in item order."""
    index: dict[Any, int] = {}
    for n in names:
        if n is not None:
            index.setdefault(n, len(index))
    of_profile = np.array([-1 if n is None else index[n] for n in names] or [-1], dtype=np.int64)
    code = of_profile[a.profile]
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(len(index) + 1))
    return {n: _group_stats(a, order[bounds[index[n]]:bounds[index[n] + 1]], seed) for n in sorted(index)}


def summary(cols: ScoreColumns, *, benchmark: str, seed: int = 0, unknown_ids: int = 0,
            settings: dict | None = None, ambiguous_ids: int = 0) -> dict:
    """metrics.json content (format: qa4d.bench.scoring's docstring) from a run's columns."""
    a = _Arrays(cols)
    out: dict[str, Any] = {"benchmark": benchmark}
    if settings is not None:
        out["settings"] = settings
    out["overall"] = _group_stats(a, None, seed)
    out["by_task"] = _grouped(a, [p[0] for p in cols.profiles], seed)
    out["by_category"] = _grouped(a, [p[1] for p in cols.profiles], seed)
    keys: list[str] = []
    for p in cols.profiles:  # in order of first appearance, as the items name them
        for k, _ in p[3]:
            if k not in keys:
                keys.append(k)
    for k in keys:
        out[f"by_{k}"] = _grouped(a, [dict(p[3]).get(k) for p in cols.profiles], seed)
    # flat view; a group name used under two groupings is qualified as "grouping: name"
    owners: dict[str, list[str]] = {}
    for k in keys:
        for v in out[f"by_{k}"]:
            owners.setdefault(v, []).append(k)
    flat: dict[str, dict] = {}
    for k in keys:
        for v, stats in out[f"by_{k}"].items():
            flat[v if len(owners[v]) == 1 else f"{k}: {v}"] = stats
    out["by_group"] = flat
    out["extraction_rules"] = dict(sorted(cols.rules.items()))
    out["unknown_prediction_ids"] = int(unknown_ids)
    out["ambiguous_prediction_ids"] = int(ambiguous_ids)
    return out


def score_to_files(bench, items: Iterable[BenchItem], res, out_dir: str | Path, *, guess: bool = False,
                   judge=None, seed: int = 0, chunk: int = 2048) -> dict:
    """Score `items` (in order) against `res` (a `scoring.ResolvedPredictions`), writing
    OUT/scored.jsonl line by line and then OUT/metrics.json, each atomically; returns the metrics.

    The same bytes as `write_score_outputs(out, *score_resolved(bench, items, res, ...))`. `items`
    may be any iterable (an iterator that drops each item once scored keeps memory flat).
    scored.jsonl replaces the old file only once every item is scored and the metrics computed.
    """
    from qa4d.bench import scoring as S  # noqa: PLC0415 (the per-item rules live there)

    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    cols = ScoreColumns()
    with atomic_file(out_dir / "scored.jsonl") as f:
        lines: list[str] = []

        def flush() -> None:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
            lines.clear()

        first = _score_items(bench, items, res, cols, S, lines, flush, chunk, guess=guess, judge=judge, rng=rng)
        if lines:
            flush()
        metrics = summary(cols, benchmark=getattr(bench, "name", "") or first, seed=seed,
                          unknown_ids=len(res.unknown),
                          settings={"guess": bool(guess), "judge": judge is not None, "seed": int(seed)},
                          ambiguous_ids=len(res.ambiguous))
        text = dumps_json(S.json_safe(metrics))
    write_text_atomic(out_dir / "metrics.json", text)
    return metrics


def _score_items(bench, items: Iterable[BenchItem], res, cols: ScoreColumns, S, lines: list[str], flush, chunk: int,
                 *, guess: bool, judge, rng: np.random.Generator) -> str:
    """Append each item's scored.jsonl line to `lines` (calling `flush` when it holds `chunk`) and
    the item to `cols`, in item order; returns the first item's benchmark name ("" for none).

    A multiple-choice response read without a judge (nearly every item) takes the direct path: the
    line is written from its parts (`scoring.scored_line`'s text, with the parts shared by the
    items of one profile encoded once) and the columns are appended in place. Everything else (an
    error, a missing response, --guess on an unparsed answer, a judge, other formats, values that
    are not plain text) goes through `scoring.score_one` and `scoring.scored_line`."""
    responses, errors = res.responses, res.errors
    own_groups, direct = _shortcuts(bench, S.extract)
    groupings = bench.groupings
    score_one, scored_line, chance_of, same_option, extract = (S.score_one, S.scored_line, S._chance,
                                                               S.same_option, S.extract)
    enc, plain_object = S._enc, S._plain_object
    memo: dict[tuple, Extraction] = {}
    # (task, category, options, groups: the dict's id while `held` keeps it alive, else its items)
    #   -> `_profile` (profile code, the line's task text, its text after the answer); None: not plain
    profiles: dict[tuple, tuple[int, str, str] | None] = {}
    held: list[dict] = []
    known_parts: dict[tuple, tuple] = {}  # (value, rule, span) -> `_ex_parts`
    answer_text: dict[str, str] = {}  # answer -> ', "answer": "B"'
    score_col, correct_col, judged_col, rule_col, profile_col = (cols.score, cols.correct, cols.judged,
                                                                 cols.rule_code, cols.profile)
    rules = cols.rules
    mc_fast = judge is None
    compiled: dict[int, tuple[dict, Any]] = {}  # `_compile`
    first = None
    append = lines.append
    for item in S._progress(items):
        if len(lines) >= chunk:
            flush()
        if first is None:
            first = item.benchmark or ""
        iid = item.id
        response = responses.get(iid)
        groups = item.groups if own_groups else groupings(item)
        if mc_fast and response is not None and item.answer_format == "mc" and type(iid) is str:
            opts = item.options or {}
            c = None
            if direct:
                entry = compiled.get(id(opts))
                if entry is None or entry[0] is not opts:
                    entry = _compile(compiled, opts)
                c = entry[1]
            if len(response) <= MEMO_CHARS:
                key = (response, *opts, *opts.values()) if c is None else (response, c)
                hit = memo.get(key)
                if hit is None:
                    hit = _remember(memo, key, [_read(response, item, c, extract), None])
                ex = hit[0]
            else:
                hit = None
                ex = _read(response, item, c, extract)
            value, answer = ex.value, item.answer
            if (value is None and not guess) or type(value) is str:
                pkey = (item.task, item.category, len(opts), id(groups) if own_groups else tuple(groups.items()))
                prof = profiles.get(pkey, False)
                if prof is False:  # kept while `held` keeps its groups alive (pkey may hold their id)
                    if len(profiles) >= 4096:
                        profiles.clear()
                        held.clear()
                    prof = profiles[pkey] = _profile(cols, item, groups, chance_of(item), enc, plain_object)
                    held.append(groups)
                if prof is not None and type(answer) is str:
                    code, task_part, tail = prof
                    if value is None:
                        ok = False
                    elif value == answer:
                        ok = True
                    elif c is None:
                        ok = same_option(opts, value, answer)
                    else:  # same_option with the compiled set's groups
                        grp = c.group
                        ok = value in grp and answer in grp and grp[value] == grp[answer]
                    # the line's parts that depend on the extraction alone, once per memoised one
                    parts = hit[1] if hit is not None else None
                    if parts is None:
                        parts = _ex_parts(ex, known_parts, enc)
                        if hit is not None:
                            hit[1] = parts
                    middle, rule, rcode, extra = parts
                    at = answer_text.get(answer)
                    if at is None:
                        at = answer_text[answer] = f', "answer": {enc(answer)}'
                    append(f'{{"id": {enc(iid)}{task_part}{_OK_TEXT if ok else _NOT_OK_TEXT}{middle}{at}{tail}{extra}}}')
                    score_col.append(1.0 if ok else 0.0)
                    correct_col.append(1 if ok else 0)
                    judged_col.append(0)
                    rule_col.append(rcode)
                    profile_col.append(code)
                    rules[rule] = rules.get(rule, 0) + 1
                    continue
        s = score_one(item, groups, response, errors.get(iid), guess=guess, judge=judge, rng=rng)
        cols.add_scored(s, item.category, chance_of(item))
        append(scored_line(s))
    return first or ""


_OK_TEXT = 'true, "score": 1.0, "extracted": '
_NOT_OK_TEXT = 'false, "score": 0.0, "extracted": '


def _ex_parts(ex: Extraction, known: dict, enc) -> tuple[str, str, int, str]:
    """(the extracted value and rule as line text, the rule, its code, the extra object's text)
    of a multiple-choice extraction whose value is a string or None; `known` keeps them by
    (value, rule, span), which repeat ("final answer is: B")."""
    key = (ex.value, ex.rule, ex.text)
    parts = known.get(key)
    if parts is None:
        if len(known) >= MEMO_ENTRIES:
            known.clear()
        rule, span = ex.rule, ex.text
        xs = "null" if ex.value is None else enc(ex.value)
        extra = f'{{"span": {enc(span[:200])}}}' if span else "{}"
        parts = known[key] = (f'{xs}, "rule": {enc(rule)}', rule, _RULE_CODE.get(rule, 0), extra)
    return parts


def _profile(cols: ScoreColumns, item: BenchItem, groups: dict, chance: float, enc, plain_object):
    """(profile code, the text between an id and a "correct" value, the text after the answer up
    to the extra object) of an item whose task and groups are plain text; None otherwise (its
    lines take the general path)."""
    groups_text = plain_object(groups)
    if groups_text is None or type(item.task) is not str:
        return None
    code = cols.profile_of(item.task, item.category, chance, groups)
    return (code, f', "task": {enc(item.task)}, "correct": ',
            f', "groups": {groups_text}, "error": null, "judged": false, "extra": ')


def _shortcuts(bench, extract) -> tuple[bool, bool]:
    """(whether an item's groups are its `groups` field: the benchmark keeps Benchmark.groupings;
    whether multiple choice is read the stock way, choices.extract_choice, so each option set (one
    dict shared by the items that repeat it, as the loaders share them) can be compiled once)."""
    from qa4d.answers import get_format  # noqa: PLC0415
    from qa4d.answers.mc import MultipleChoice  # noqa: PLC0415
    from qa4d.bench import extract as E  # noqa: PLC0415
    from qa4d.bench.benchmarks.base import Benchmark  # noqa: PLC0415

    own_groups = getattr(type(bench), "groupings", None) is Benchmark.groupings
    return own_groups, extract is E.extract and type(get_format("mc")).extract is MultipleChoice.extract


def _compile(compiled: dict[int, tuple[dict, Any]], opts: dict) -> tuple[dict, Any]:
    """Option set `opts` compiled (answers.choices.compiled_choices) and kept in `compiled` by the
    dict's id, with the dict itself so the id stays its own; bounded."""
    if len(compiled) >= 4096:
        compiled.clear()
    entry = compiled[id(opts)] = (opts, compiled_choices(opts))
    return entry


def _read(response: str, item: BenchItem, c, extract) -> Extraction:
    """The reading of a multiple-choice response: by its compiled option set `c`, or by `extract`."""
    return extract(response, item) if c is None else extract_compiled(response, c)


def _remember(memo: dict, key: tuple, value: list) -> list:
    """`value` kept in `memo` under `key`; the memo is cleared first when full (bounded memory)."""
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = value
    return value
