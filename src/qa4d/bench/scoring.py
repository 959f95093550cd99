"""Scoring: (benchmark items, raw responses) -> per-item ScoredItems and a metrics.json summary.

Per item, by the item's answer format (`AnswerFormat.score` in qa4d.answers; the item's `score`
is what the headline "accuracy" averages):

    mc, yesno, free   correct = extracted answer equals the ground truth; score 1/0
    number            score = mean relative accuracy (VSI-Bench); correct = None
    scalar, vector    correct = relative L2 error <= 20% (MultiSPA); score 1/0
    coord             correct = pixel error <= 5% of the image width (MultiSPA); score 1/0
    track             score = TAP-Vid average Jaccard (occlusion accuracy when the track has no
                      visible scored point); sub-metrics in `extra`; correct = None

An unparsed response, a model error and a missing response all score 0 and are counted apart
(`unparsed`, `errors`, `missing`), so `n` is always the number of benchmark items.

metrics.json:
    {"benchmark", "settings",
     "overall": {"accuracy", "n", "unparsed", "errors", "missing", "judged", "guessed", "correct",
                 "ci95": [lo, hi], "chance", "chance_adjusted", ["tapvid": {...}]},
     "by_task": {task: {...same keys...}}, "by_category": {...},
     "by_<grouping>": {...} for each of the benchmark's groupings (vlm4d: by_split, by_view,
     by_synthetic_type), "by_group": all groupings flat (vlm4d: real, synthetic, ego-centric,
     exo-centric, synthetic false-positive, synthetic directional),
     "extraction_rules": {rule: count}, "unknown_prediction_ids": count,
     "ambiguous_prediction_ids": count}

Prediction ids are matched to items by `resolve_prediction_ids`: an item's own id, or an alias its
benchmark accepts (VLM4D: "validation_1" as written in a single annotation file). Unknown and
ambiguous ids are counted and not scored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qa4d._io import write_text_atomic
from qa4d.answers import find_format
from qa4d.answers.choices import same_option
from qa4d.bench.extract import extract
from qa4d.bench.predictions import Predictions, read_predictions_file
from qa4d.bench.types import BenchItem, Extraction, ScoredItem

__all__ = [
    "score_item",
    "score_responses",
    "score_resolved",
    "resolve_prediction_ids",
    "prediction_id_problem",
    "id_warnings",
    "ResolvedPredictions",
    "scored_row",
    "scored_line",
    "summarize",
    "write_score_outputs",
    "read_predictions",
    "read_prediction_file",
    "PredictionFile",
    "atomic_write_text",
    "json_safe",
]

JudgeFn = Callable[[BenchItem, str], "Extraction | None"]


# ----------------------------------------------------------------------------- per item

def _chance(item: BenchItem) -> float:
    fmt = find_format(item.answer_format)
    return fmt.chance(item) if fmt is not None else 0.0


def score_item(item: BenchItem, ex: Extraction) -> tuple[bool | None, float, dict[str, Any]]:
    """(correct, score, extra) of one extracted answer, by the item's answer format
    (`AnswerFormat.score`); `ex.value is None` scores 0."""
    fmt = find_format(item.answer_format)
    if ex.value is None:
        return (False if fmt is not None and fmt.accuracy_style else None), 0.0, {}
    if fmt is None:
        raise ValueError(f"item {item.id!r}: unknown answer_format {item.answer_format!r}")
    return fmt.score(item, ex)


# ----------------------------------------------------------------------------- a run

def _benchmark_instance(benchmark):
    if isinstance(benchmark, str):
        from qa4d.bench.registry import get_benchmark

        return get_benchmark(benchmark)()
    if isinstance(benchmark, type):
        return benchmark()
    return benchmark


@dataclasses.dataclass
class ResolvedPredictions:
    """Predictions keyed by item id, and what could not be matched to an item."""

    responses: dict[str, str]              # item id -> raw response
    errors: dict[str, str]                 # item id -> model error
    n_ids: int                             # distinct prediction ids read
    unknown: list[str]                     # prediction ids that name no item
    ambiguous: dict[str, list[str]]        # prediction id -> the items it could name
    duplicates: list[str]                  # aliases of an item that its own id also answered


def resolve_prediction_ids(benchmark, items: list[BenchItem], responses: dict[str, str],
                           errors: dict[str, str] | None = None) -> ResolvedPredictions:
    """Match prediction ids to items: an item's own id, else an alias the benchmark accepts
    (`Benchmark.id_aliases`; VLM4D: the id as written in its file, "validation_1"). An alias that
    could name several items is ambiguous, one that names none unknown; neither is scored. When an
    item is answered under its own id and an alias, its own id wins; a response beats an error."""
    bench = _benchmark_instance(benchmark)
    errors = errors or {}
    known = {it.id for it in items}
    aliases = None
    out_r: dict[str, str] = {}
    out_e: dict[str, str] = {}
    later: list[tuple[str, str, bool]] = []
    unknown: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    tables: tuple = ((responses, False), (errors, True))
    if known.issuperset(responses) and known.issuperset(errors):  # every id is an item's own
        out_r, out_e = dict(responses), dict(errors)  # what the loop below gives, in one step
        tables = ()
    for table, is_error in tables:
        for pid, value in table.items():
            if pid in known:
                (out_e if is_error else out_r)[pid] = value
            else:
                later.append((pid, value, is_error))
    duplicates: list[str] = []
    for pid, value, is_error in later:
        if aliases is None:
            aliases = bench.id_aliases(items)
        targets = aliases.get(pid, ())
        if len(targets) > 1:
            ambiguous.setdefault(pid, list(targets))
            continue
        if not targets:
            if pid not in unknown:
                unknown.append(pid)
            continue
        iid = targets[0]
        if iid in out_r or (is_error and iid in out_e):
            duplicates.append(pid)
            continue
        if is_error:
            out_e[iid] = value
        else:
            out_r[iid] = value
            out_e.pop(iid, None)
    for iid in out_r:
        out_e.pop(iid, None)
    n_ids = len(responses) + sum(1 for pid in errors if pid not in responses)  # |ids|, without a set of them
    return ResolvedPredictions(out_r, out_e, n_ids, unknown, ambiguous, duplicates)


def prediction_id_problem(res: ResolvedPredictions, items: list[BenchItem], predictions: str,
                          annotations: str, benchmark_name: str) -> str | None:
    """A one-line reason to refuse scoring, or None: the file holds no prediction, or most of its
    ids name no question (or several), which would otherwise score a silent 0."""
    if res.n_ids == 0:
        return f"{predictions}: holds no predictions (no line with an 'id' and a 'response' or an 'error')"
    bad = len(res.unknown) + len(res.ambiguous)
    if 2 * bad <= res.n_ids:
        return None
    expected = repr(items[0].id) if items else "(the annotation file holds no question)"
    if len(res.ambiguous) >= len(res.unknown):
        pid, targets = next(iter(res.ambiguous.items()))
        return (f"{predictions}: {len(res.ambiguous)} of {res.n_ids} prediction ids do not say which annotation "
                f"file's question they answer (e.g. {pid!r}: {' or '.join(targets)}); write the file prefix, e.g. "
                f"{targets[0]!r}, or score one annotation file")
    return (f"{predictions}: {len(res.unknown)} of {res.n_ids} prediction ids match no {benchmark_name} question "
            f"in {annotations} (e.g. {res.unknown[0]!r}); expected ids like {expected}")


def id_warnings(res: ResolvedPredictions) -> list[str]:
    """One line per kind of prediction id that was not scored."""
    out = []
    if res.unknown:
        out.append(f"{len(res.unknown)} prediction id(s) match no question, e.g. {res.unknown[0]!r}; not scored")
    if res.ambiguous:
        pid, targets = next(iter(res.ambiguous.items()))
        out.append(f"{len(res.ambiguous)} prediction id(s) do not say which question they answer, e.g. {pid!r}: "
                   f"{' or '.join(targets)}; not scored (write the file prefix)")
    if res.duplicates:
        out.append(f"{len(res.duplicates)} prediction id(s) answer a question already answered under its own id, "
                   f"e.g. {res.duplicates[0]!r}; ignored")
    return out


def score_responses(
    benchmark,
    items: list[BenchItem],
    responses: dict[str, str],
    errors: dict[str, str] | None = None,
    guess: bool = False,
    judge: JudgeFn | None = None,
    seed: int = 0,
) -> tuple[list[ScoredItem], dict]:
    """Score every item (in item order) and summarise.

    benchmark: a Benchmark instance, class or registry name (for its groupings and id aliases).
    responses: {prediction id: raw model text}; errors: {prediction id: model error} for items that
        failed. Ids are matched to items by `resolve_prediction_ids`.
    guess: replace unparsed mc/yes-no answers by a seeded random option (official-scorer parity).
    judge: called as judge(item, response) only for responses the rules cannot parse; its
        Extraction (value not None) is used and the item is marked judged=True.
    """
    bench = _benchmark_instance(benchmark)
    return score_resolved(bench, items, resolve_prediction_ids(bench, items, responses, errors),
                          guess=guess, judge=judge, seed=seed)


def score_resolved(benchmark, items: list[BenchItem], res: ResolvedPredictions, guess: bool = False,
                   judge: JudgeFn | None = None, seed: int = 0) -> tuple[list[ScoredItem], dict]:
    """`score_responses` on predictions already matched to items."""
    bench = _benchmark_instance(benchmark)
    responses, errors = res.responses, res.errors
    rng = np.random.default_rng(seed)
    groupings = bench.groupings
    scored = [score_one(item, groupings(item), responses.get(item.id), errors.get(item.id), guess=guess,
                        judge=judge, rng=rng) for item in _progress(items)]
    return scored, summarize(scored, items, bench, seed=seed, unknown_ids=len(res.unknown),
                             settings={"guess": bool(guess), "judge": judge is not None, "seed": int(seed)},
                             ambiguous_ids=len(res.ambiguous))


def score_one(item: BenchItem, groups: dict[str, str], response: str | None, error: str | None, *,
              guess: bool = False, judge: JudgeFn | None = None,
              rng: np.random.Generator | None = None) -> ScoredItem:
    """The ScoredItem of one item: `response` (None: the model's `error`, or missing when that is
    None too) read and scored; `rng` draws the --guess options (one generator per run, in item order)."""
    if response is None:
        fmt = find_format(item.answer_format)
        return ScoredItem(item.id, item.task, False if fmt is not None and fmt.accuracy_style else None, 0.0,
                          None, "error" if error is not None else "missing", item.answer, groups, error)
    ex = extract(response, item)
    if item.answer_format == "mc" and ex.value is not None and judge is None:
        # score_item's multiple-choice case, inline: most items are this
        ok = ex.value == item.answer or same_option(item.options or {}, ex.value, item.answer)
        return ScoredItem(item.id, item.task, ok, 1.0 if ok else 0.0, ex.value, ex.rule, item.answer, groups,
                          None, False, {"span": ex.text[:200]} if ex.text else {})
    judged = False
    extra: dict[str, Any] = {}
    if ex.value is None and judge is not None:
        try:
            j = judge(item, response)
        except Exception as e:  # a failing judge must not lose the run: record and go on
            j = None
            extra["judge_error"] = f"{type(e).__name__}: {e}"
        if j is not None and j.value is not None:
            ex = Extraction(j.value, j.rule if j.rule.startswith("judge") else "judge", j.text)
            judged = True
    if ex.value is None and guess:
        ex = extract(response, item, guess=True, rng=rng if rng is not None else np.random.default_rng(0))
    correct, score, more = score_item(item, ex)
    if more:
        extra.update(more)
    if ex.text:
        extra["span"] = ex.text[:200]
    return ScoredItem(item.id, item.task, correct, score, ex.value, ex.rule, item.answer, groups, None,
                      judged, extra)


def _progress(items: list[BenchItem]):
    """A progress bar on a terminal (tqdm); the plain list otherwise, as tqdm(disable=None) would
    be, without importing tqdm (a tenth of a second of a 100k-item run)."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, desc="scoring", unit="item", disable=None, leave=False)


def summarize(
    scored: list[ScoredItem],
    items: list[BenchItem],
    benchmark=None,
    seed: int = 0,
    unknown_ids: int = 0,
    settings: dict | None = None,
    ambiguous_ids: int = 0,
) -> dict:
    """metrics.json content for scored items (same order as `items`); the statistics are those of
    the streamed path (`qa4d.bench.score_stream.summary`), on the same per-item columns."""
    from qa4d.bench.score_stream import ScoreColumns, summary  # noqa: PLC0415

    if len(scored) == len(items) and all(s.id == it.id for s, it in zip(scored, items)):
        row_items = items
    else:
        by_id = {it.id: it for it in items}
        row_items = [by_id[s.id] for s in scored]
    cols = ScoreColumns()
    for s, it in zip(scored, row_items):
        cols.add_scored(s, it.category, _chance(it))
    name = getattr(benchmark, "name", "") or (items[0].benchmark if items else "")
    return summary(cols, benchmark=name, seed=seed, unknown_ids=unknown_ids, settings=settings,
                   ambiguous_ids=ambiguous_ids)


# ----------------------------------------------------------------------------- files

def json_safe(obj: Any) -> Any:
    """JSON-safe copy: nan/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (np.floating,)):
        return json_safe(float(obj))
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


atomic_write_text = write_text_atomic  # the one atomic write (qa4d._io), under its old name here


_PLAIN = (str, type(None), bool, int)
# the same text as json.dumps(..., ensure_ascii=False, allow_nan=False), one encoder for all rows
_ENCODE_ROW = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode


def scored_row(s: ScoredItem) -> dict[str, Any]:
    """The scored.jsonl record of an item: `json_safe(dataclasses.asdict(s))`, without the deep
    copies when the values are plain (strings, None, booleans, finite floats)."""
    score = s.score if type(s.score) is float and math.isfinite(s.score) else json_safe(s.score)
    extracted = s.extracted if type(s.extracted) in _PLAIN else json_safe(s.extracted)
    groups = s.groups if all(type(k) is str and type(v) in _PLAIN for k, v in s.groups.items()) else json_safe(s.groups)
    extra = s.extra if all(type(k) is str and type(v) in _PLAIN for k, v in s.extra.items()) else json_safe(s.extra)
    correct = s.correct if type(s.correct) in _PLAIN else json_safe(s.correct)
    return {"id": s.id, "task": s.task, "correct": correct, "score": score, "extracted": extracted,
            "rule": s.rule, "answer": s.answer, "groups": groups, "error": s.error, "judged": s.judged,
            "extra": extra}


def scored_line(s: ScoredItem) -> str:
    """One scored.jsonl line: the text of json.dumps(scored_row(s), ensure_ascii=False,
    allow_nan=False), written out directly when every value is a string, None, a boolean or a
    finite float (the common case), through the encoder otherwise."""
    score = s.score
    if (type(score) is float and score - score == 0.0 and type(s.id) is str and type(s.task) is str
            and type(s.rule) is str and type(s.answer) is str and type(s.judged) is bool):
        x, err, c = s.extracted, s.error, s.correct
        xs = _enc(x) if type(x) is str else ("null" if x is None else None)
        es = _enc(err) if type(err) is str else ("null" if err is None else None)
        cs = _JSON_CONST.get(c) if c is None or type(c) is bool else None
        gs, ys = _plain_groups(s.groups), _plain_object(s.extra)
        if xs is not None and es is not None and cs is not None and gs is not None and ys is not None:
            return (f'{{"id": {_enc(s.id)}, "task": {_enc(s.task)}, "correct": {cs}, "score": {score!r}, '
                    f'"extracted": {xs}, "rule": {_enc(s.rule)}, "answer": {_enc(s.answer)}, "groups": {gs}, '
                    f'"error": {es}, "judged": {"true" if s.judged else "false"}, "extra": {ys}}}')
    return _ENCODE_ROW(scored_row(s))


_enc = json.encoder.encode_basestring  # a JSON string literal, non-ASCII kept (ensure_ascii=False)
_JSON_CONST = {None: "null", True: "true", False: "false"}


def _plain_groups(d: dict) -> str | None:
    """`_plain_object` of an item's groups; a run has only a few distinct ones, each encoded once."""
    key = tuple(d.items())
    try:
        text = _GROUPS_TEXT.get(key)
    except TypeError:  # an unhashable value: not plain anyway
        return None
    if text is None:
        text = _plain_object(d)
        if len(_GROUPS_TEXT) < 4096:
            _GROUPS_TEXT[key] = text
    return text


_GROUPS_TEXT: dict[tuple, str | None] = {}


def _plain_object(d: dict) -> str | None:
    """JSON text of a {str: str} dict, or None when a key or value is anything else."""
    parts = []
    for k, v in d.items():
        if type(k) is not str or type(v) is not str:
            return None
        parts.append(f"{_enc(k)}: {_enc(v)}")
    return "{" + ", ".join(parts) + "}"


def write_score_outputs(out_dir: Path, scored: list[ScoredItem], metrics: dict) -> None:
    """Write OUT/metrics.json and OUT/scored.jsonl, each atomically (qa4d._io)."""
    out_dir = Path(out_dir)
    text = "\n".join([scored_line(s) for s in scored])
    write_text_atomic(out_dir / "scored.jsonl", text + "\n" if scored else "")
    write_text_atomic(out_dir / "metrics.json",
                      json.dumps(json_safe(metrics), indent=2, ensure_ascii=False, allow_nan=False) + "\n")


PredictionFile = Predictions  # the one reader: qa4d.bench.predictions


def read_prediction_file(path: Path) -> Predictions:
    """Read PRED.jsonl with the one predictions reader (qa4d.bench.predictions: an id on several
    lines keeps its last answer; malformed lines are skipped and listed in `problems`)."""
    return read_predictions_file(path)


def read_predictions(path: Path) -> dict[str, str]:
    """{id: response} of PRED.jsonl (see read_prediction_file; problems go to stderr)."""
    import sys

    pf = read_prediction_file(path)
    for p in pf.problems:
        print(f"warning: {p}", file=sys.stderr)
    return pf.responses
