"""Scenes -> dataset: per-scene work in the executor's workers, one cheap global step between.

1. Per scene (workers, qa4d.engine.candidates): the scene check and, for a valid scene, its
   candidates, kept in one file per scene (what resuming reuses); a job returns compact
   descriptors only.
2. Balancing (the command, whole dataset, qa4d.engine.plan): per task and split, the descriptors
   are balanced by label and given answer formats and option positions.
3. Per scene (workers, qa4d.engine.wording): the chosen candidates are worded, their media
   written and their records validated; the command appends the records to samples.jsonl in
   output order (split by split, scenes in id order) and writes dataset.json
   (qa4d.engine.summary).

Every random draw is keyed by the seed and stable names (sampling.rng_for), so the output bytes
depend only on the scenes, the settings and the seed -- not on the executor, the worker count or
how often the run was interrupted. A local pool is forked once for both phases; in each phase the
jobs start costliest first (phase 1: frames x objects; phase 2: images to write), so the workers
reach the end of a phase together.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

from qa4d._io import atomic_file, remove_stale_temporaries, resolve_inside
from qa4d._exec import ExecutorConfig, in_order, make_executor
from qa4d.engine.candidates import phase1_job as _phase1
from qa4d.engine.config import GenerateConfig
from qa4d.dataset.records import RecordError
from qa4d.engine.plan import gather, plan
from qa4d.engine.registry import resolve_tasks
from qa4d.engine.sampling import split_scenes
from qa4d.engine.summary import Made, Summary, by_source, dataset_info, print_summary  # noqa: F401 (print_summary: the CLI's)
from qa4d.engine.wording import phase2_job as _phase2
from qa4d.engine.writer import SPLITS, WORK_DIR, write_json
from qa4d.scene.format import META_FILE
from qa4d.scene.validate import SceneReport, mark_shared_ids, scene_dirs

SAMPLES = "samples.jsonl"


class GenerateError(RuntimeError):
    """A run that cannot proceed (bad settings, a dataset started with other settings)."""


def fingerprint(cfg: GenerateConfig, task_names: list[str]) -> str:
    blob = json.dumps({"settings": cfg.fingerprint(), "tasks": task_names}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_task_settings(cfg: GenerateConfig) -> None:
    """Task names in per-task settings (mc_options, bench_task_formats) must exist in the families."""
    from qa4d.engine.registry import family_tasks

    known = [t for fam in cfg.families for name in family_tasks(fam) for t in (name, f"{fam}/{name}")]
    for what, table in (("mc_options", cfg.mc_options), ("bench_task_formats", cfg.bench_task_formats)):
        unknown = [t for t in table if t not in known]
        if unknown:
            raise GenerateError(f"{what}: unknown task(s) {', '.join(unknown)} (known: {', '.join(known)})")


def _claimed_id(scene_dir: Path) -> tuple[str | None, int]:
    """The scene_id in a directory's scene.json (None when it cannot be read: the scene check
    then says why) and a rough cost of its phase-1 job: frames x (2 + objects)."""
    try:
        data = json.loads(resolve_inside(scene_dir, META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None, 0
    if not isinstance(data, dict):
        return None, 0
    sid = data.get("scene_id")
    objects, frames = data.get("objects"), data.get("num_frames")
    cost = (frames if isinstance(frames, int) else 1) * (2 + (len(objects) if isinstance(objects, list) else 0))
    return (sid if isinstance(sid, str) else None), cost


def costliest_first(costs: list[float]) -> list[int]:
    """Job indices by decreasing cost, ties in job order: started in this order, the long jobs
    run early and the short ones fill the end of a phase, so no worker waits long for another's
    last job (longest processing time first)."""
    return sorted(range(len(costs)), key=lambda i: (-costs[i], i))


def _run_phase1(found: list[Path], out: Path, cfg: GenerateConfig, fp: str, ex) -> list[dict[str, Any]]:
    """Phase 1 of every scene directory in the executor's workers; results in `found` order. A
    scene whose id another directory claims too is only checked (both are invalid), so two
    scenes never write one candidates file."""
    ids, costs = zip(*[_claimed_id(d) for d in found])
    claimed = Counter(i for i in ids if i is not None)
    cfg_json = cfg.to_json()
    jobs = [(str(d), str(out), cfg_json, fp, claimed[i] <= 1) for d, i in zip(found, ids)]
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="check + candidates", unit="scene", disable=None, file=sys.stderr)
    try:
        for d in ex.run(_phase1, jobs, order=costliest_first(list(costs))):
            if d.error is not None:
                raise d.error
            results[d.index] = d.result
            bar.update(1)
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def _valid_scenes(results: list[dict[str, Any]], summary: Summary, log: Callable[[str], None]) -> dict[str, dict]:
    """{scene_id: phase-1 result} of the scenes that pass `qa4d validate`'s checks (each scene,
    then ids used twice: both scenes are skipped). Every other scene is recorded in
    `summary.broken` with its problems, counted in `summary.scene_skips`, and logged."""
    reports: list[SceneReport] = mark_shared_ids([r["report"] for r in results])
    valid: dict[str, dict] = {}
    reasons: Counter = Counter()
    for r, res in zip(reports, results):
        if r.ok and r.scene_id is not None:
            valid[r.scene_id] = res
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


def _phase2_jobs(chosen, pools, split, valid, out: Path, cfg: GenerateConfig) -> tuple[list[tuple], list[int]]:
    """Phase-2 jobs in output order (split by split, scenes in id order) and the images each
    writes (its cost)."""
    cfg_json = cfg.to_json()
    jobs, images = [], []
    for s in SPLITS:
        for sid in sorted(sid for sid in chosen if split[sid] == s):
            items = [(key, uid, fmt, choice) for _, uid, key, fmt, choice, _ in chosen[sid]]
            used = {key: pools[(key, s)] for key, *_ in items}
            jobs.append((str(valid[sid]["report"].path), sid, str(out), cfg_json, s, items, used))
            images.append(sum(c[5] for c in chosen[sid]))
    return jobs, images


def _run_phase2(jobs: list[tuple], images: list[int], out: Path, task_names: list[str], sources: dict[str, str],
                skips: dict[str, Counter], ex) -> Made:
    """Phase 2 in the executor's workers, the jobs writing the most images started first; their
    records appended in job order to each split's samples.jsonl (written atomically: both files
    appear when every job is done)."""
    made = Made({s: Counter() for s in SPLITS}, {s: {t: Counter() for t in task_names} for s in SPLITS}, {})
    bar = tqdm(total=sum(images), desc="media", unit="img", disable=None, file=sys.stderr)
    n = {s: 0 for s in SPLITS}
    try:
        with atomic_file(out / "train" / SAMPLES) as train, atomic_file(out / "bench" / SAMPLES) as bench:
            files = {"train": train, "bench": bench}
            for d in in_order(ex.run(_phase2, jobs, order=costliest_first(images))):
                if d.error is not None:
                    raise d.error
                sid, s, res = jobs[d.index][1], jobs[d.index][4], d.result
                if res["bad"] is not None:
                    i, fld, problem, rid = res["bad"]
                    raise RecordError(out / s / SAMPLES, n[s] + i + 1, fld, problem, rid)
                files[s].write(res["text"].encode("utf-8"))
                n[s] += len(res["made"])
                for key, fmt in res["made"]:
                    made.counts[s][key] += 1
                    made.formats[s][key][fmt] += 1
                    made.by_source.setdefault(sources[sid], Counter())[key] += 1
                for key, reasons in res["dropped"].items():
                    skips[key].update(reasons)
                bar.total -= res["images_dropped"]
                bar.update(res["images"])
    finally:
        bar.close()
    return made


# ------------------------------------------------------------------------------ the run


def _warm_up(tasks) -> None:
    """Import and load here, once, what every worker would otherwise load for itself (Pillow's
    codecs, the templates, the record schema): forked workers share it."""
    from PIL import Image

    from qa4d.dataset.records import _validator
    from qa4d.engine.kinds.base import _templates

    Image.preinit()
    _validator()
    for task in tasks:
        try:
            _templates(task)
        except (OSError, KeyError, ValueError):  # a task without templates: its worker reports it
            pass


def _settings(cfg: GenerateConfig) -> tuple[Path, Path, list, str]:
    """Checked settings: (out, scenes root, tasks, fingerprint); GenerateError when unusable."""
    cfg.validate()
    scenes_root = Path(cfg.scenes)
    if not scenes_root.is_dir():
        raise GenerateError(f"--scenes {scenes_root}: not a directory")
    tasks = resolve_tasks(cfg.families, cfg.tasks)
    _check_task_settings(cfg)
    return Path(cfg.out), scenes_root, tasks, fingerprint(cfg, [t.key for t in tasks])


def _start(out: Path, cfg: GenerateConfig, fp: str, log: Callable[[str], None]) -> None:
    """Refuse an --out started with other settings; clear an interrupted run's temporaries."""
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


def generate(cfg: GenerateConfig, log: Callable[[str], None] | None = None,
             executor: ExecutorConfig | None = None) -> Summary:
    """Run the three steps (module docstring); returns the summary also written to dataset.json."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    out, scenes_root, tasks, fp = _settings(cfg)
    task_names = [t.key for t in tasks]
    found, _ = scene_dirs([scenes_root])
    if not found:
        raise GenerateError(f"--scenes {scenes_root}: no valid scene (a scene directory holds scene.json; "
                            "`qa4d validate` lists the problems)")
    _start(out, cfg, fp, log)
    summary = Summary()
    # fork: the parent holds nothing a child must not share (no PyBullet client, no threads)
    with make_executor(executor or ExecutorConfig(workers=max(1, int(cfg.workers)), start_method="fork")) as ex:
        if ex.parallel and ex.kind == "local":
            _warm_up(tasks)
        # every scene is validated (the checks of `qa4d validate`) before it can become data; scene
        # ids decide the split, so an invalid scene never shifts the good ones' output
        valid = _valid_scenes(_run_phase1(found, out, cfg, fp, ex), summary, log)
        if not valid:
            raise GenerateError(f"--scenes {scenes_root}: no valid scene (a scene directory holds scene.json; "
                                "`qa4d validate` lists the problems)")
        reused = sum(1 for r in valid.values() if r["reused"])
        if reused:
            log(f"resumed: {reused} of {len(valid)} scenes already had candidates")
        split = split_scenes(list(valid), cfg.seed, cfg.bench_fraction)
        g = gather(valid, split, task_names, summary, log)
        chosen, pools = plan(tasks, g, cfg)
        jobs, images = _phase2_jobs(chosen, pools, split, valid, out, cfg)
        del chosen
        made = _run_phase2(jobs, images, out, task_names, g.sources, g.skips, ex)
    order = {t: i for i, t in enumerate(task_names)}
    for s in SPLITS:
        summary.counts[s] = dict(sorted(made.counts[s].items(), key=lambda kv: order[kv[0]]))
    summary.skips = {t: dict(sorted(g.skips[t].items())) for t in task_names}
    summary.by_source = by_source(made.by_source, g.sources, g.source_skips, task_names)
    write_json(out / "dataset.json", dataset_info(cfg, scenes_root, fp, tasks, split, g.sources, made, summary))
    return summary
