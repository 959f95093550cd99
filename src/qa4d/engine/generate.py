"""Scenes -> dataset, in two resumable phases.

Phase 1 (per scene, parallel): every task samples segments and objects, measures, labels and
chooses object references; the candidates of a scene go to one JSON file, written atomically.
A scene whose file exists is not redone, so a killed run resumes where it stopped.

Phase 2 (whole dataset, deterministic): per task and split, candidates are balanced by label,
given answer formats and option positions, worded from the templates, and written with their
media. Every random draw is keyed by the seed and stable names (sampling.rng_for), so the output
bytes depend only on the scenes, the settings and the seed -- not on worker count or on how
often the run was interrupted.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from qa4d._io import remove_stale_temporaries
from qa4d._exec import ExecutorConfig, make_executor
from qa4d.engine.config import GenerateConfig
from qa4d.dataset import write_samples
from qa4d.engine.kinds.base import SceneContext, Skip
from qa4d.engine.thresholds import thresholds_dict
from qa4d.engine.options import assign_choices, assign_formats, balance, cap_balanced
from qa4d.engine.references import prompts_by_media
from qa4d.engine.registry import resolve_tasks
from qa4d.engine.sampling import rng_for, split_scenes
from qa4d.engine.writer import (
    SPLITS,
    WORK_DIR,
    MediaWriter,
    candidates_path,
    frame_media_path,
    prompt_media_path,
    write_json,
)
from qa4d.scene.format import SceneError, load_scene, read_meta
from qa4d.scene.validate import check_scenes, scene_dirs

DATASET_FORMAT = "qa4d.dataset/1"


class GenerateError(RuntimeError):
    """A run that cannot proceed (bad settings, a dataset started with other settings)."""


@dataclass
class Summary:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)      # split -> task -> n
    skips: dict[str, dict[str, int]] = field(default_factory=dict)       # task -> reason -> n
    broken: list[dict[str, Any]] = field(default_factory=list)
    scene_skips: dict[str, int] = field(default_factory=dict)            # reason -> scenes skipped
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)   # source -> scenes, counts, skips


def _valid_scenes(scenes_root: Path, summary: Summary, workers: int, log: Callable[[str], None]) -> dict[str, Path]:
    """{scene_id: directory} of the scenes under `scenes_root` that pass `qa4d validate`'s checks
    (each scene, then ids used twice: both scenes are skipped). Every other scene is recorded in
    `summary.broken` with its problems, counted in `summary.scene_skips`, and logged."""
    found, _ = scene_dirs([scenes_root])
    valid: dict[str, Path] = {}
    reasons: Counter = Counter()
    for r in check_scenes(found, check_frames=True, workers=workers, desc="check scenes"):
        if r.ok and r.scene_id is not None:
            valid[r.scene_id] = r.path
            continue
        first = r.problems[0]
        more = f" (and {len(r.problems) - 1} more)" if len(r.problems) > 1 else ""
        summary.broken.append({"scene": str(r.path), "scene_id": r.scene_id,
                               "error": f"{first.field}: {first.message}{more}",
                               "problems": [f"{p.field}: {p.message}" for p in r.problems]})
        reasons[f"invalid {first.field}"] += 1
        log(f"{r.path}: skipped, {first.field}: {first.message}{more}")
    summary.scene_skips = dict(sorted(reasons.items()))
    return valid


def fingerprint(cfg: GenerateConfig, task_names: list[str]) -> str:
    blob = json.dumps({"settings": cfg.fingerprint(), "tasks": task_names}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _thresholds(family: str, source: str, cfg: GenerateConfig):
    from qa4d.engine.registry import thresholds_for

    return thresholds_for(family, source, cfg.thresholds)


def _check_task_settings(cfg: GenerateConfig) -> None:
    """Task names in per-task settings (mc_options, bench_task_formats) must exist in the families."""
    from qa4d.engine.registry import family_tasks

    known = [t for fam in cfg.families for name in family_tasks(fam) for t in (name, f"{fam}/{name}")]
    for what, table in (("mc_options", cfg.mc_options), ("bench_task_formats", cfg.bench_task_formats)):
        unknown = [t for t in table if t not in known]
        if unknown:
            raise GenerateError(f"{what}: unknown task(s) {', '.join(unknown)} (known: {', '.join(known)})")


# ------------------------------------------------------------------------------ phase 1


def scene_candidates(scene, cfg: GenerateConfig, tasks) -> dict[str, Any]:
    """All tasks' candidates of one scene: {"candidates": {family/task: [...]}, "skips": {family/task: {reason: n}}}.

    Each family gets its own SceneContext (its thresholds for the scene's source)."""
    cands: dict[str, list[dict[str, Any]]] = {}
    skips: dict[str, dict[str, int]] = {}
    contexts: dict[str, SceneContext] = {}
    short = cfg.full_segments and scene.num_frames < cfg.segment_frames
    for task in tasks:
        if task.family not in contexts:
            contexts[task.family] = SceneContext(scene=scene, config=cfg, skips=skips, family=task.family,
                                                 thresholds=_thresholds(task.family, scene.meta.source, cfg))
        ctx = contexts[task.family]
        key = task.key
        reason = task.check_scene(scene)
        if short:  # presets with fixed-length samples (full_segments) never shorten a segment
            reason = f"scene has {scene.num_frames} frames, fewer than segment_frames={cfg.segment_frames}"
        if reason is not None:
            ctx.skip(key, reason)
            cands[key] = []
            continue
        try:
            cands[key] = task.candidates(ctx)
        except Skip as e:
            ctx.skip(key, str(e))
            cands[key] = []
        except (SceneError, ValueError, KeyError, IndexError) as e:
            # bad data for this task only (e.g. a malformed optional array): the other tasks go on
            ctx.skip(key, f"error: {type(e).__name__}: {e}")
            cands[key] = []
        if not cands[key] and key not in skips:
            ctx.skip(key, "no candidate in scene")
    return {"candidates": cands, "skips": skips}


def _phase1(job: tuple[str, str, dict[str, Any], str]) -> tuple[str, str | None]:
    """Worker: candidates of one scene -> its candidates file. Returns (scene_id, error)."""
    scene_dir, out, cfg_json, fp = job
    cfg = GenerateConfig.from_json(cfg_json)
    tasks = resolve_tasks(cfg.families, cfg.tasks)
    scene_id = read_meta(scene_dir).scene_id
    path = candidates_path(Path(out), scene_id)
    result: dict[str, Any] = {"scene_id": scene_id, "fingerprint": fp, "error": None, "candidates": {}, "skips": {}}
    scene = None
    try:
        scene = load_scene(scene_dir)
        result.update(scene_candidates(scene, cfg, tasks))
    except Exception as e:  # noqa: BLE001
        # a scene that passed validation but still cannot be used: reported, never fatal for the run
        result["error"] = f"{type(e).__name__}: {e}"
        result["candidates"], result["skips"] = {}, {}
    finally:
        if scene is not None:
            scene.close()
    write_json(path, result)
    return scene_id, result["error"]


def _run_phase1(jobs: list[tuple[str, str, dict[str, Any], str]], log: Callable[[str], None],
                executor: ExecutorConfig) -> None:
    """Phase 1 of every scene, in the executor's workers (local processes or Ray tasks); each job
    writes its own candidates file, so completion order does not matter."""
    if not jobs:
        return
    bar = tqdm(total=len(jobs), desc="candidates", unit="scene", disable=None, file=sys.stderr)
    try:
        with make_executor(executor) as ex:
            for d in ex.run(_phase1, jobs):
                if d.error is not None:
                    raise d.error
                scene_id, err = d.result
                if err:
                    log(f"scene {scene_id}: skipped, {err}")
                bar.update(1)
    finally:
        bar.close()


# ------------------------------------------------------------------------------ phase 2


def _render(task, cand, fmt, choice, env, seed: int) -> dict[str, Any]:
    rng = rng_for(seed, "render", cand["uid"], fmt)
    record_id = f"{task.family}/{cand['uid']}"
    out = task.render(cand, fmt, choice, rng, env)
    media = []
    prompts = prompts_by_media(out["meta"].get("refs", []))
    jobs = []
    for pos, t in enumerate(cand["frame_indices"]):
        if pos in prompts:
            circles = [{"cx": r["cx"], "cy": r["cy"], "r": r["r"], "colour": r["colour"],
                        **({"label": r["label"]} if r.get("mode") == "mark" else {}),
                        **({"text": r["text"]} if r.get("text") else {})} for r in prompts[pos]]
            media.append(prompt_media_path(cand["scene_id"], record_id, pos))
            jobs.append(("prompt", t, pos, circles))
        else:
            media.append(frame_media_path(cand["scene_id"], t))
            jobs.append(("frame", t, pos, None))
    record = {
        "id": record_id,
        "family": task.family,
        "task": task.name,
        "category": task.category,
        "scene_id": cand["scene_id"],
        "media": media,
        "frame_indices": list(cand["frame_indices"]),
        "timestamps": list(cand["timestamps"]),
        "question": out["question"],
        "options": out["options"],
        "answer": out["answer"],
        "answer_format": fmt,
        "meta": out["meta"],
    }
    return {"record": record, "jobs": jobs}


def generate(cfg: GenerateConfig, log: Callable[[str], None] | None = None,
             executor: ExecutorConfig | None = None) -> Summary:
    """Run both phases; returns the summary also written to dataset.json."""
    from qa4d.engine.kinds.base import RenderEnv

    log = log or (lambda msg: print(msg, file=sys.stderr))
    cfg.validate()
    out = Path(cfg.out)
    scenes_root = Path(cfg.scenes)
    if not scenes_root.is_dir():
        raise GenerateError(f"--scenes {scenes_root}: not a directory")
    tasks = resolve_tasks(cfg.families, cfg.tasks)
    task_names = [t.key for t in tasks]
    _check_task_settings(cfg)
    fp = fingerprint(cfg, task_names)
    summary = Summary()

    # inventory: every scene is validated (the checks of `qa4d validate`) before it can become
    # data; scene ids decide the split, so an invalid scene never shifts the good ones' output
    dirs = _valid_scenes(scenes_root, summary, max(1, int(cfg.workers)), log)
    if not dirs:
        raise GenerateError(f"--scenes {scenes_root}: no valid scene (a scene directory holds scene.json; "
                            "`qa4d validate` lists the problems)")
    split = split_scenes(list(dirs), cfg.seed, cfg.bench_fraction)

    run_file = out / WORK_DIR / "run.json"
    if run_file.exists():
        prev = json.loads(run_file.read_text())
        if prev.get("fingerprint") != fp:
            raise GenerateError(
                f"{out}: was started with other settings (fingerprint {prev.get('fingerprint')} != {fp}); "
                "use a new --out directory or delete it"
            )
    out.mkdir(parents=True, exist_ok=True)
    if remove_stale_temporaries(out):
        log(f"{out}: removed temporary files left by an interrupted run")
    write_json(run_file, {"fingerprint": fp, "settings": cfg.fingerprint()})

    # phase 1
    cfg_json = cfg.to_json()
    jobs = []
    for sid in sorted(dirs):
        p = candidates_path(out, sid)
        if p.exists():
            try:
                if json.loads(p.read_text()).get("fingerprint") == fp:
                    continue
            except json.JSONDecodeError:
                pass
        jobs.append((str(dirs[sid]), str(out), cfg_json, fp))
    if len(jobs) < len(dirs):
        log(f"resuming: {len(dirs) - len(jobs)} of {len(dirs)} scenes already have candidates")
    # fork: the parent holds nothing a child must not share (no PyBullet client, no threads)
    _run_phase1(jobs, log, executor or ExecutorConfig(workers=max(1, int(cfg.workers)), start_method="fork"))

    # phase 2: gather
    by_task: dict[str, dict[str, list[dict[str, Any]]]] = {t: {s: [] for s in SPLITS} for t in task_names}
    skips: dict[str, Counter] = {t: Counter() for t in task_names}
    source_skips: dict[str, dict[str, Counter]] = {}   # per source: which tasks it could not make, and why
    metas = {}
    for sid in sorted(dirs):
        data = json.loads(candidates_path(out, sid).read_text())
        if data.get("error"):
            summary.broken.append({"scene": str(dirs[sid]), "scene_id": sid, "error": data["error"]})
            summary.scene_skips["error while sampling"] = summary.scene_skips.get("error while sampling", 0) + 1
            continue
        metas[sid] = read_meta(dirs[sid])
        per_source = source_skips.setdefault(metas[sid].source, {t: Counter() for t in task_names})
        for t in task_names:
            by_task[t][split[sid]].extend(data["candidates"].get(t, []))
            skips[t].update(data["skips"].get(t, {}))
            per_source[t].update(data["skips"].get(t, {}))

    # phase 2: balance, format (every task and split), then word and write scene by scene in the
    # order of the output, so records are streamed to samples.jsonl instead of held all at once
    order = {t: i for i, t in enumerate(task_names)}
    chosen_all: dict[str, list[tuple]] = {}   # scene -> (task order, uid, task, cand, fmt, choice, pool)
    for task in tasks:
        for s in SPLITS:
            cands = by_task[task.key][s]
            if s == "bench" and task.category in cfg.bench_exclude_categories:
                if cands:
                    skips[task.key][f"category {task.category} excluded from bench by the settings"] += len(cands)
                continue
            kept, dropped = balance(cands, rng_for(cfg.seed, "balance", task.name, s), mode=task.balance_mode)
            skips[task.key].update(dropped)
            if s == "bench" and cfg.bench_max_per_task and len(kept) > cfg.bench_max_per_task:
                n_cut = len(kept) - cfg.bench_max_per_task
                kept = cap_balanced(kept, cfg.bench_max_per_task, rng_for(cfg.seed, "cap", task.name, s))
                skips[task.key]["cut to bench_max_per_task"] += n_cut
            weights = cfg.train_formats if s == "train" else cfg.bench_task_formats.get(task.key, cfg.bench_task_formats.get(task.name, cfg.bench_formats))
            strict = s == "bench" and cfg.bench_strict_formats
            fmts = assign_formats(kept, lambda c: task.formats(c, s), weights, rng_for(cfg.seed, "formats", task.name, s),
                                  strict=strict)
            if strict and len(fmts) < len(kept):
                skips[task.key]["dropped to keep the bench format mix"] += len(kept) - len(fmts)
            n_opts = (lambda c, k=task.options_count(cfg): min(k, len(c.get("items", ())) or k))
            chosen = assign_choices(fmts, n_opts, rng_for(cfg.seed, "choices", task.name, s))
            pool = Counter(c["key"] for c in kept)
            pool.update(t for c in kept for t in c.get("pool_tags", ()))   # a task's own tags (vlm4d: names)
            for cand, fmt, choice in chosen:
                chosen_all.setdefault(cand["scene_id"], []).append(
                    (order[task.key], cand["uid"], task, cand, fmt, choice, pool))

    by_task.clear()  # candidates not chosen are no longer needed
    # phase 2: word, write the records (qa4d.dataset.write_samples validates each one as it is
    # written) and the media (existing media files are complete: skipped); one split at a time,
    # its scenes in id order (a scene belongs to one split, so this is the order of the output)
    counts: dict[str, Counter] = {s: Counter() for s in SPLITS}
    formats: dict[str, dict[str, Counter]] = {s: {t: Counter() for t in task_names} for s in SPLITS}
    made_by_source: dict[str, Counter] = {}
    total = sum(len(c[3]["frame_indices"]) for jobs_ in chosen_all.values() for c in jobs_)
    bar = tqdm(total=total, desc="media", unit="img", disable=None, file=sys.stderr)

    def split_records(s: str):
        for sid in sorted(sid for sid in chosen_all if split[sid] == s):
            scene = load_scene(dirs[sid])
            try:
                mw = MediaWriter(out, scene, cfg.jpeg_quality)
                for _, _, task, cand, fmt, choice, pool in sorted(chosen_all.pop(sid), key=lambda c: c[:2]):
                    env = RenderEnv(scene_meta=metas[sid], config=cfg, pool=dict(pool))
                    try:
                        r = _render(task, cand, fmt, choice, env, cfg.seed)
                    except Skip as e:
                        skips[task.key][f"dropped while wording: {e}"] += 1
                        bar.total -= len(cand["frame_indices"])
                        continue
                    counts[s][task.key] += 1
                    formats[s][task.key][fmt] += 1
                    made_by_source.setdefault(metas[sid].source, Counter())[task.key] += 1
                    for kind, t, pos, circles in r["jobs"]:
                        if kind == "prompt":
                            mw.prompted_frame(t, r["record"]["id"], pos, circles)
                        else:
                            mw.shared_frame(t)
                        bar.update(1)
                    yield r["record"]
            finally:
                scene.close()

    for s in SPLITS:
        write_samples(out / s / "samples.jsonl", split_records(s))
    bar.close()

    for s in SPLITS:
        summary.counts[s] = dict(sorted(counts[s].items(), key=lambda kv: order[kv[0]]))
    summary.skips = {t: dict(sorted(skips[t].items())) for t in task_names}
    summary.by_source = _by_source(made_by_source, metas, source_skips, task_names)

    info = {
        "format": DATASET_FORMAT,
        "fingerprint": fp,
        "settings": {**{k: v for k, v in cfg_json.items() if k not in ("out", "workers")},
                     "scenes": str(scenes_root.resolve())},
        "tasks": [{"name": t.name, "family": t.family, "category": t.category} for t in tasks],
        "splits": {s: {"scenes": sorted(sid for sid in metas if split[sid] == s),
                       "samples": sum(counts[s].values())} for s in SPLITS},
        "counts": summary.counts,
        "formats": {s: {t: dict(sorted(formats[s][t].items())) for t in task_names} for s in SPLITS},
        "skips": summary.skips,
        "by_source": summary.by_source,
        "scene_skips": summary.scene_skips,
        "broken_scenes": summary.broken,
        "thresholds": {fam: {src: thresholds_dict(_thresholds(fam, src, cfg))
                              for src in sorted({m.source for m in metas.values()})}
                       for fam in cfg.families},
    }
    write_json(out / "dataset.json", info)
    return summary


def _by_source(made_by_source, metas, source_skips, task_names) -> dict[str, dict[str, Any]]:
    """Per scene source: scenes, samples per task (both splits; `made_by_source`: source -> task
    -> count), and per task the phase-1 skip reasons (a task absent from `counts` was made from
    none of that source's scenes)."""
    out: dict[str, dict[str, Any]] = {}
    for src in sorted(source_skips):
        made = made_by_source.get(src, Counter())
        out[src] = {
            "scenes": sum(1 for m in metas.values() if m.source == src),
            "counts": {t: made[t] for t in task_names if made[t]},
            "skips": {t: dict(sorted(source_skips[src][t].items())) for t in task_names if source_skips[src][t]},
        }
    return out


def print_summary(summary: Summary, file=None) -> None:
    file = file or sys.stderr
    tasks = list(summary.skips)
    print(f"{'task':<36}{'train':>7}{'bench':>7}  skipped (reason: count)", file=file)
    for t in tasks:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(summary.skips[t].items(), key=lambda kv: -kv[1])[:3])
        print(f"{t:<36}{summary.counts.get('train', {}).get(t, 0):>7}{summary.counts.get('bench', {}).get(t, 0):>7}  {reasons}",
              file=file)
    if len(summary.by_source) > 1 or any(s != "sim" for s in summary.by_source):
        for src, info in summary.by_source.items():
            missing = [t for t in tasks if t not in info["counts"]]
            print(f"source {src} ({info['scenes']} scenes): {sum(info['counts'].values())} samples; "
                  f"no sample for {', '.join(missing) or 'none'}", file=file)
            for t in missing:
                reasons = ", ".join(f"{r}: {n}" for r, n in sorted(info["skips"].get(t, {}).items(), key=lambda kv: -kv[1])[:2])
                print(f"  {t}: {reasons or 'dropped in balancing'}", file=file)
    for b in summary.broken:
        print(f"broken scene {b['scene']}: {b['error']}", file=file)
