"""Balancing of `qa4d generate`, in the command, over the whole dataset: per task and split, the
phase-1 descriptors (qa4d.engine.candidates.Desc) are balanced by label, the bench capped, and
the kept ones given answer formats and option positions (qa4d.engine.options). Every draw is
keyed by the seed and the task and split names (sampling.rng_for).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable

from qa4d.engine.candidates import Desc
from qa4d.engine.config import GenerateConfig
from qa4d.engine.options import assign_choices, assign_formats, balance, cap_balanced
from qa4d.engine.sampling import rng_for
from qa4d.engine.summary import Summary
from qa4d.engine.writer import SPLITS


@dataclass
class Gathered:
    """Phase 1's descriptors and skip counts, arranged for balancing."""

    by_task: dict[str, dict[str, list[Desc]]]       # task -> split -> descriptors
    skips: dict[str, Counter]                       # task -> reason -> n
    source_skips: dict[str, dict[str, Counter]]     # source -> task -> reason -> n
    sources: dict[str, str]                         # scene id -> source (usable scenes)


def gather(valid: dict[str, dict], split: dict[str, str], task_names: list[str], summary: Summary,
            log: Callable[[str], None]) -> Gathered:
    g = Gathered({t: {s: [] for s in SPLITS} for t in task_names}, {t: Counter() for t in task_names}, {}, {})
    fmts: dict[tuple, tuple] = {}  # one tuple object per distinct format tuple
    for sid in sorted(valid):
        res = valid[sid]
        if res["error"]:
            summary.broken.append({"scene": str(res["report"].path), "scene_id": sid, "error": res["error"]})
            summary.scene_skips["error while sampling"] = summary.scene_skips.get("error while sampling", 0) + 1
            log(f"scene {sid}: skipped, {res['error']}")
            continue
        g.sources[sid] = res["source"]
        per_source = g.source_skips.setdefault(res["source"], {t: Counter() for t in task_names})
        for t in task_names:
            g.by_task[t][split[sid]].extend(
                Desc(uid, key, fmts.setdefault(tr, tr), fmts.setdefault(be, be), n_items, n_frames, tuple(tags), sid)
                for uid, key, tr, be, n_items, n_frames, tags in res["descs"].get(t, []))
            g.skips[t].update(res["skips"].get(t, {}))
            per_source[t].update(res["skips"].get(t, {}))
        res["descs"] = None  # the descriptors now live in g.by_task only
    return g


def choose(task, s: str, descs: list[Desc], cfg: GenerateConfig, skips: Counter) -> tuple[list[tuple], dict]:
    """Balance one task's descriptors of one split by label, cap the bench, assign answer formats
    and option positions. Returns ([(descriptor, format, choice)], the label pool: key -> count
    among the balanced ones, which distractors are drawn from); what is dropped is counted in `skips`."""
    kept, dropped = balance(descs, rng_for(cfg.seed, "balance", task.name, s), mode=task.balance_mode)
    skips.update(dropped)
    if s == "bench" and cfg.bench_max_per_task and len(kept) > cfg.bench_max_per_task:
        n_cut = len(kept) - cfg.bench_max_per_task
        kept = cap_balanced(kept, cfg.bench_max_per_task, rng_for(cfg.seed, "cap", task.name, s))
        skips["cut to bench_max_per_task"] += n_cut
    weights = cfg.train_formats if s == "train" else cfg.bench_task_formats.get(
        task.key, cfg.bench_task_formats.get(task.name, cfg.bench_formats))
    strict = s == "bench" and cfg.bench_strict_formats
    fmts = assign_formats(kept, lambda d: d[s], weights, rng_for(cfg.seed, "formats", task.name, s), strict=strict)
    if strict and len(fmts) < len(kept):
        skips["dropped to keep the bench format mix"] += len(kept) - len(fmts)
    k = task.options_count(cfg)
    chosen = assign_choices(fmts, lambda d: min(k, d.n_items or k), rng_for(cfg.seed, "choices", task.name, s))
    pool = Counter(d.key for d in kept)
    pool.update(t for d in kept for t in d.tags)   # a task's own tags (vlm4d: object names)
    return chosen, dict(pool)


def plan(tasks, g: Gathered, cfg: GenerateConfig) -> tuple[dict[str, list[tuple]], dict[tuple[str, str], dict]]:
    """Balancing of every task and split. Returns (scene id -> [(task key, uid, format, choice,
    images)] in output order, (task key, split) -> label pool: key -> count among the kept)."""
    order = {t.key: i for i, t in enumerate(tasks)}
    chosen: dict[str, list[tuple]] = {}
    pools: dict[tuple[str, str], dict] = {}
    for task in tasks:
        for s in SPLITS:
            descs = g.by_task[task.key][s]
            g.by_task[task.key][s] = []  # candidates not chosen are no longer needed
            if s == "bench" and task.category in cfg.bench_exclude_categories:
                if descs:
                    g.skips[task.key][f"category {task.category} excluded from bench by the settings"] += len(descs)
                continue
            picked, pools[(task.key, s)] = choose(task, s, descs, cfg, g.skips[task.key])
            for d, fmt, choice in picked:
                chosen.setdefault(d.scene_id, []).append((order[task.key], d.uid, task.key, fmt, choice, d.n_frames))
    for items in chosen.values():
        items.sort(key=lambda c: c[:2])
    return chosen, pools
