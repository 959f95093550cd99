"""Scoring: (benchmark items, raw responses) -> per-item ScoredItems and a metrics.json summary.

Per item, by answer format (the item's `score` is what the headline "accuracy" averages):

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
     "extraction_rules": {rule: count}, "unknown_prediction_ids": count}
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm import tqdm

from qa4d._io import write_text_atomic
from qa4d.bench import metrics as M
from qa4d.bench.extract import extract, normalize_text
from qa4d.bench.predictions import Predictions, read_predictions_file
from qa4d.bench.types import BenchItem, Extraction, ScoredItem

__all__ = [
    "score_item",
    "score_responses",
    "summarize",
    "write_score_outputs",
    "read_predictions",
    "read_prediction_file",
    "PredictionFile",
    "atomic_write_text",
    "json_safe",
]

ACCURACY_FORMATS = ("mc", "yesno", "free", "scalar", "vector", "coord")
JudgeFn = Callable[[BenchItem, str], "Extraction | None"]


# ----------------------------------------------------------------------------- per item

def _chance(item: BenchItem) -> float:
    if item.answer_format == "mc" and item.options:
        return 1.0 / len(item.options)
    if item.answer_format == "yesno":
        return 0.5
    return 0.0


def _to_pixels(v: list[float], item: BenchItem) -> tuple[np.ndarray, float]:
    h, w = item.meta.get("image_size") or [1000.0, 1000.0]
    scale = item.meta.get("coord_scale")
    xy = np.asarray(v, dtype=np.float64)
    if scale:
        xy = xy / float(scale) * np.array([float(w), float(h)])
    return xy, float(w)


def _track_arrays(track: list[dict], frames: list[int]) -> tuple[np.ndarray, np.ndarray]:
    by_frame = {int(p["frame"]): p for p in track}
    xy = np.full((len(frames), 2), np.nan)
    occ = np.ones(len(frames), dtype=bool)  # a frame the model left out counts as "occluded"
    for i, f in enumerate(frames):
        p = by_frame.get(f)
        if p is None:
            continue
        xy[i] = [float(p["x"]) if p.get("x") is not None else np.nan,
                 float(p["y"]) if p.get("y") is not None else np.nan]
        occ[i] = not bool(p.get("visible", True))
    return xy, occ


def score_item(item: BenchItem, ex: Extraction) -> tuple[bool | None, float, dict[str, Any]]:
    """(correct, score, extra) of one extracted answer; `ex.value is None` scores 0."""
    fmt = item.answer_format
    accuracy_style = fmt in ACCURACY_FORMATS
    if ex.value is None:
        return (False if accuracy_style else None), 0.0, {}
    if fmt == "mc":
        opts = item.options or {}
        ok = ex.value == item.answer or (
            ex.value in opts and normalize_text(opts[ex.value]) == normalize_text(opts.get(item.answer, "\0")))
        return bool(ok), float(ok), {}
    if fmt == "yesno":
        ok = str(ex.value).lower() == item.answer.strip().lower()
        return ok, float(ok), {}
    if fmt == "free":
        ok = normalize_text(ex.value) == normalize_text(item.answer)
        return ok, float(ok), {}
    if fmt == "number":
        mra = float(M.mean_relative_accuracy(np.array([float(ex.value)]), np.array([float(item.answer)]))[0])
        return None, mra, {}
    if fmt == "scalar":
        ok = bool(M.relative_l2_within(np.array([float(ex.value)]), np.array([float(item.answer)]))[0])
        return ok, float(ok), {}
    if fmt == "vector":
        gt = np.asarray(json.loads(item.answer), dtype=np.float64)
        pred = np.asarray(ex.value, dtype=np.float64)
        if pred.shape != gt.shape:
            return False, 0.0, {"shape_mismatch": [list(pred.shape), list(gt.shape)]}
        ok = bool(M.relative_l2_within(pred[None], gt[None])[0])
        return ok, float(ok), {"l2_error": float(np.linalg.norm(pred - gt))}
    if fmt == "coord":
        gt_px, width = _to_pixels(json.loads(item.answer), item)
        pred_px, _ = _to_pixels(ex.value, item)
        ok = bool(M.pixel_within(pred_px[None], gt_px[None], np.array([width]))[0])
        return ok, float(ok), {"pixel_error": float(np.linalg.norm(pred_px - gt_px))}
    if fmt == "track":
        gt_track = item.meta["track"]
        frames = [int(p["frame"]) for p in gt_track]
        gt_xy, gt_occ = _track_arrays(gt_track, frames)
        pred_xy, pred_occ = _track_arrays(ex.value, frames)
        qf = (item.meta.get("query") or {}).get("frame")
        ev = np.array([f != qf for f in frames])
        size = item.meta.get("image_size") or [256, 256]
        res = M.tapvid_metrics(pred_xy[None], pred_occ[None], gt_xy[None], gt_occ[None],
                               image_size=(float(size[0]), float(size[1])), evaluation_mask=ev[None])
        extra = {k: float(v[0]) for k, v in res.items()}
        aj = extra["average_jaccard"]
        score = aj if math.isfinite(aj) else extra["occlusion_accuracy"]
        return None, float(score) if math.isfinite(score) else 0.0, extra
    raise ValueError(f"item {item.id!r}: unknown answer_format {fmt!r}")


# ----------------------------------------------------------------------------- a run

def _benchmark_instance(benchmark):
    if isinstance(benchmark, str):
        from qa4d.bench.registry import get_benchmark

        return get_benchmark(benchmark)()
    if isinstance(benchmark, type):
        return benchmark()
    return benchmark


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

    benchmark: a Benchmark instance, class or registry name (for its groupings).
    responses: {item id: raw model text}; errors: {item id: model error} for items that failed.
    guess: replace unparsed mc/yes-no answers by a seeded random option (official-scorer parity).
    judge: called as judge(item, response) only for responses the rules cannot parse; its
        Extraction (value not None) is used and the item is marked judged=True.
    """
    bench = _benchmark_instance(benchmark)
    errors = errors or {}
    rng = np.random.default_rng(seed)
    scored: list[ScoredItem] = []
    for item in tqdm(items, desc="scoring", unit="item", disable=None, leave=False):
        groups = {**bench.groupings(item)}
        base = dict(id=item.id, task=item.task, answer=item.answer, groups=groups)
        accuracy_style = item.answer_format in ACCURACY_FORMATS
        response = responses.get(item.id)
        if response is None:
            err = errors.get(item.id)
            rule = "error" if err is not None else "missing"
            scored.append(ScoredItem(correct=False if accuracy_style else None, score=0.0, extracted=None,
                                     rule=rule, error=err, **base))
            continue
        ex = extract(response, item)
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
            ex = extract(response, item, guess=True, rng=rng)
        correct, score, more = score_item(item, ex)
        extra.update(more)
        if ex.text:
            extra["span"] = ex.text[:200]
        scored.append(ScoredItem(correct=correct, score=score, extracted=ex.value, rule=ex.rule,
                                 judged=judged, extra=extra, **base))
    known = {it.id for it in items}
    unknown = sum(1 for k in responses if k not in known)
    return scored, summarize(scored, items, bench, seed=seed, unknown_ids=unknown,
                             settings={"guess": bool(guess), "judge": judge is not None, "seed": int(seed)})


def _group_stats(rows: list[ScoredItem], chance: list[float], seed: int) -> dict[str, Any]:
    scores = np.array([r.score for r in rows], dtype=np.float64)
    acc = M.accuracy(scores)
    ch = float(np.mean(chance)) if chance else 0.0
    lo, hi = M.bootstrap_ci(scores, seed=seed)
    out: dict[str, Any] = {
        "accuracy": acc,
        "n": len(rows),
        "correct": sum(1 for r in rows if r.correct),
        "unparsed": sum(1 for r in rows if r.rule == "unparsed"),
        "errors": sum(1 for r in rows if r.rule == "error"),
        "missing": sum(1 for r in rows if r.rule == "missing"),
        "judged": sum(1 for r in rows if r.judged),
        "guessed": sum(1 for r in rows if r.rule == "random_guess"),
        "ci95": [lo, hi],
        "chance": ch,
        "chance_adjusted": M.chance_adjusted_accuracy(acc, ch),
    }
    tracks = [r.extra for r in rows if "average_jaccard" in r.extra]
    if tracks:
        keys = [k for k in tracks[0] if isinstance(tracks[0][k], float)]
        out["tapvid"] = {k: float(np.nanmean([t.get(k, np.nan) for t in tracks])) for k in keys}
    return out


def _grouped(keyed: list[tuple[str, ScoredItem, float]], seed: int) -> dict[str, dict]:
    names: list[str] = []
    members: dict[str, list[tuple[ScoredItem, float]]] = {}
    for name, row, ch in keyed:
        if name not in members:
            names.append(name)
            members[name] = []
        members[name].append((row, ch))
    return {n: _group_stats([r for r, _ in members[n]], [c for _, c in members[n]], seed) for n in sorted(names)}


def summarize(
    scored: list[ScoredItem],
    items: list[BenchItem],
    benchmark=None,
    seed: int = 0,
    unknown_ids: int = 0,
    settings: dict | None = None,
) -> dict:
    """metrics.json content for scored items (same order as `items`)."""
    chance = {it.id: _chance(it) for it in items}
    category = {it.id: it.category for it in items}
    name = getattr(benchmark, "name", "") or (items[0].benchmark if items else "")
    out: dict[str, Any] = {"benchmark": name}
    if settings is not None:
        out["settings"] = settings
    out["overall"] = _group_stats(scored, [chance[s.id] for s in scored], seed)
    out["by_task"] = _grouped([(s.task, s, chance[s.id]) for s in scored], seed)
    out["by_category"] = _grouped([(category[s.id], s, chance[s.id]) for s in scored if category[s.id]], seed)
    keys: list[str] = []
    for s in scored:
        for k in s.groups:
            if k not in keys:
                keys.append(k)
    for k in keys:
        out[f"by_{k}"] = _grouped([(s.groups[k], s, chance[s.id]) for s in scored if k in s.groups], seed)
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
    rules: dict[str, int] = {}
    for s in scored:
        rules[s.rule] = rules.get(s.rule, 0) + 1
    out["extraction_rules"] = dict(sorted(rules.items()))
    out["unknown_prediction_ids"] = int(unknown_ids)
    return out


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


def write_score_outputs(out_dir: Path, scored: list[ScoredItem], metrics: dict) -> None:
    """Write OUT/metrics.json and OUT/scored.jsonl, each atomically."""
    out_dir = Path(out_dir)
    lines = [json.dumps(json_safe(dataclasses.asdict(s)), ensure_ascii=False, allow_nan=False) for s in scored]
    atomic_write_text(out_dir / "scored.jsonl", "".join(line + "\n" for line in lines))
    atomic_write_text(out_dir / "metrics.json",
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
