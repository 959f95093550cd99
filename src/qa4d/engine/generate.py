"""Scenes -> dataset: per-scene work in the executor's workers, one cheap global step between.

1. Per scene (workers): the scene is checked (the checks of `qa4d validate`, every frame
   decoded); a valid scene whose id no other scene claims gets its candidates: every task samples
   segments and objects, measures, labels and chooses object references. They go to one JSON file
   per scene, written atomically; a file from a run with the same settings is read instead of
   redone, so a killed run resumes where it stopped. A worker returns only compact descriptors
   (`Desc`: uid, label key, allowed formats, counts), never geometry, text or images.
2. Balancing (the command, whole dataset): per task and split, the descriptors are balanced by
   label and given answer formats and option positions (qa4d.engine.options).
3. Per scene (workers): the chosen candidates of a scene are worded from the templates, their media
   written atomically into the output root (existing media files are complete: skipped) and
   their records validated; the worker returns the records' text, which the command appends to
   samples.jsonl in output order (split by split, scenes in id order).

Every random draw is keyed by the seed and stable names (sampling.rng_for), so the output bytes
depend only on the scenes, the settings and the seed -- not on the executor, the worker count or
how often the run was interrupted.
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

from qa4d._io import atomic_file, jsonl_line, remove_stale_temporaries, resolve_inside
from qa4d._exec import ExecutorConfig, in_order, make_executor
from qa4d.engine.config import GenerateConfig
from qa4d.dataset.records import RecordError, validate_record
from qa4d.engine.kinds.base import RenderEnv, SceneContext, Skip
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
from qa4d.scene.format import META_FILE, Scene, SceneError, load_scene, read_meta
from qa4d.scene.validate import SceneReport, check_scene_arrays, mark_shared_ids, scene_dirs

DATASET_FORMAT = "qa4d.dataset/1"
SAMPLES = "samples.jsonl"


class GenerateError(RuntimeError):
    """A run that cannot proceed (bad settings, a dataset started with other settings)."""


@dataclass
class Summary:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)      # split -> task -> n
    skips: dict[str, dict[str, int]] = field(default_factory=dict)       # task -> reason -> n
    broken: list[dict[str, Any]] = field(default_factory=list)
    scene_skips: dict[str, int] = field(default_factory=dict)            # reason -> scenes skipped
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)   # source -> scenes, counts, skips


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


class Desc:
    """What balancing needs of one candidate: its uid, label key, allowed answer formats per split,
    number of items (comparisons: caps the mc options) and of images, its `pool_tags` (strings a
    task counts among the kept candidates, e.g. vlm4d's object names). Read like the candidate
    dict (`d["uid"]`, `d["key"]`) by qa4d.engine.options."""

    __slots__ = ("uid", "key", "train", "bench", "n_items", "n_frames", "tags", "scene_id")

    def __init__(self, uid: str, key: str, train: tuple[str, ...], bench: tuple[str, ...], n_items: int,
                 n_frames: int, tags: tuple[str, ...], scene_id: str):
        self.uid, self.key, self.train, self.bench = uid, key, train, bench
        self.n_items, self.n_frames, self.tags, self.scene_id = n_items, n_frames, tags, scene_id

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def describe(cand: dict[str, Any], task) -> tuple:
    """A candidate's descriptor fields (see Desc, without the scene id), as a plain tuple."""
    return (cand["uid"], cand["key"], task.formats(cand, "train"), task.formats(cand, "bench"),
            len(cand.get("items", ())), len(cand["frame_indices"]), tuple(cand.get("pool_tags", ())))


# ------------------------------------------------------------------------------ phase 1 (workers)


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


def _compute_candidates(scene_dir: str, scene_id: str, cfg: GenerateConfig, tasks, fp: str,
                        arrays: dict | None = None) -> dict[str, Any]:
    """The candidates file's content for one scene (an unusable scene gets its error instead).
    `arrays`: the scene's arrays as the check read them (else read from arrays.npz)."""
    result: dict[str, Any] = {"scene_id": scene_id, "fingerprint": fp, "error": None, "candidates": {}, "skips": {}}
    scene = None
    try:
        scene = Scene(Path(scene_dir), read_meta(scene_dir), arrays)
        result.update(scene_candidates(scene, cfg, tasks))
    except Exception as e:  # noqa: BLE001
        # a scene that passed validation but still cannot be used: reported, never fatal for the run
        result["error"] = f"{type(e).__name__}: {e}"
        result["candidates"], result["skips"] = {}, {}
    finally:
        if scene is not None:
            scene.close()
    return result


def _read_candidates(path: Path, fp: str) -> dict[str, Any] | None:
    """A scene's candidates file when a run with these settings wrote it, else None."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) and data.get("fingerprint") == fp else None


def _phase1(job: tuple[str, str, dict[str, Any], str, bool]) -> dict[str, Any]:
    """Worker, one scene: its check report and, when it is valid and `unique` (no other scene
    claims its id), its candidates -- read from its file or computed and written there. Returns
    {"report", "reused", "error", "source", "descs": {task: [describe() tuples]}, "skips"}."""
    scene_dir, out, cfg_json, fp, unique = job
    report, arrays = check_scene_arrays(scene_dir, check_frames=True)
    res: dict[str, Any] = {"report": report, "reused": False, "error": None, "source": None, "descs": {}, "skips": {}}
    if not (report.ok and report.scene_id is not None):
        return res
    if not unique:  # the command marks it invalid too, unless its scene.json changed meanwhile
        res["error"] = f"scene_id {report.scene_id!r} was claimed by another scene when the run started"
        return res
    cfg = GenerateConfig.from_json(cfg_json)
    tasks = resolve_tasks(cfg.families, cfg.tasks)
    path = candidates_path(Path(out), report.scene_id)
    data = _read_candidates(path, fp)
    res["reused"] = data is not None
    if data is None:
        data = _compute_candidates(scene_dir, report.scene_id, cfg, tasks, fp, arrays)
        write_json(path, data)
    res["error"] = data.get("error")
    if not res["error"]:
        res["source"] = read_meta(scene_dir).source
        res["descs"] = {t.key: [describe(c, t) for c in data["candidates"].get(t.key, [])] for t in tasks}
        res["skips"] = data["skips"]
    return res


def _claimed_id(scene_dir: Path) -> str | None:
    """The scene_id in a directory's scene.json, or None when it cannot be read (the scene check
    then says why)."""
    try:
        data = json.loads(resolve_inside(scene_dir, META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    sid = data.get("scene_id") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) else None


def _run_phase1(found: list[Path], out: Path, cfg: GenerateConfig, fp: str, ex) -> list[dict[str, Any]]:
    """Phase 1 of every scene directory in the executor's workers; results in `found` order. A
    scene whose id another directory claims too is only checked (both are invalid), so two
    scenes never write one candidates file."""
    ids = [_claimed_id(d) for d in found]
    claimed = Counter(i for i in ids if i is not None)
    cfg_json = cfg.to_json()
    jobs = [(str(d), str(out), cfg_json, fp, claimed[i] <= 1) for d, i in zip(found, ids)]
    results: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc="check + candidates", unit="scene", disable=None, file=sys.stderr)
    try:
        for d in ex.run(_phase1, jobs):
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


# ------------------------------------------------------------------------------ balancing (command)


@dataclass
class Gathered:
    """Phase 1's descriptors and skip counts, arranged for balancing."""

    by_task: dict[str, dict[str, list[Desc]]]       # task -> split -> descriptors
    skips: dict[str, Counter]                       # task -> reason -> n
    source_skips: dict[str, dict[str, Counter]]     # source -> task -> reason -> n
    sources: dict[str, str]                         # scene id -> source (usable scenes)


def _gather(valid: dict[str, dict], split: dict[str, str], task_names: list[str], summary: Summary,
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


def _choose(task, s: str, descs: list[Desc], cfg: GenerateConfig, skips: Counter) -> tuple[list[tuple], dict]:
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


def _plan(tasks, g: Gathered, cfg: GenerateConfig) -> tuple[dict[str, list[tuple]], dict[tuple[str, str], dict]]:
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
            picked, pools[(task.key, s)] = _choose(task, s, descs, cfg, g.skips[task.key])
            for d, fmt, choice in picked:
                chosen.setdefault(d.scene_id, []).append((order[task.key], d.uid, task.key, fmt, choice, d.n_frames))
    for items in chosen.values():
        items.sort(key=lambda c: c[:2])
    return chosen, pools
# ------------------------------------------------------------------------------ phase 2 (workers)


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


def _chosen_candidates(path: Path, chosen: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(task key, uid) -> candidate, for the chosen ones of one scene's candidates file (a uid is
    unique within a task only: two families' tasks of one name share uids)."""
    data = json.loads(path.read_text())
    return {(key, c["uid"]): c for key, cands in data["candidates"].items() for c in cands
            if (key, c["uid"]) in chosen}


def _write_media(mw: MediaWriter, r: dict[str, Any]) -> None:
    for kind, t, pos, circles in r["jobs"]:
        if kind == "prompt":
            mw.prompted_frame(t, r["record"]["id"], pos, circles)
        else:
            mw.shared_frame(t)


def _phase2(job: tuple) -> dict[str, Any]:
    """Worker, one scene: word its chosen candidates, write their media, validate the records.
    job = (scene dir, scene id, out, settings, split, [(task key, uid, format, choice)] in output
    order, {task key: label pool}). Returns {"text": the records' samples.jsonl lines, "made": [(task,
    format)], "dropped": {task: {reason: n}}, "images", "images_dropped", "bad": None or (record
    number in the scene, field, problem, record id) of the first invalid record (nothing after it)}."""
    scene_dir, _, out, cfg_json, split, items, pools = job
    cfg = GenerateConfig.from_json(cfg_json)
    tasks = {t.key: t for t in resolve_tasks(cfg.families, cfg.tasks)}
    res: dict[str, Any] = {"text": "", "made": [], "dropped": {}, "images": 0, "images_dropped": 0, "bad": None}
    lines: list[str] = []
    scene = load_scene(scene_dir)
    try:
        cands = _chosen_candidates(candidates_path(Path(out), scene.scene_id), {(it[0], it[1]) for it in items})
        mw = MediaWriter(Path(out), scene, cfg.jpeg_quality)
        for key, uid, fmt, choice in items:
            cand = cands[(key, uid)]
            env = RenderEnv(scene_meta=scene.meta, config=cfg, pool=dict(pools[key]))
            try:
                r = _render(tasks[key], cand, fmt, choice, env, cfg.seed)
            except Skip as e:
                reasons = res["dropped"].setdefault(key, {})
                reasons[f"dropped while wording: {e}"] = reasons.get(f"dropped while wording: {e}", 0) + 1
                res["images_dropped"] += len(cand["frame_indices"])
                continue
            try:
                validate_record(r["record"], split, len(lines) + 1)
            except RecordError as e:
                res["bad"] = (len(lines), e.field, e.problem, e.record_id)
                break
            _write_media(mw, r)
            res["images"] += len(r["jobs"])
            res["made"].append((key, fmt))
            lines.append(jsonl_line(r["record"]) + "\n")
    finally:
        scene.close()
    res["text"] = "".join(lines)
    return res


@dataclass
class Made:
    """What phase 2 wrote, counted for dataset.json."""

    counts: dict[str, Counter]                    # split -> task -> records
    formats: dict[str, dict[str, Counter]]        # split -> task -> format -> records
    by_source: dict[str, Counter]                 # source -> task -> records


def _phase2_jobs(chosen, pools, split, valid, out: Path, cfg: GenerateConfig) -> list[tuple]:
    """Phase-2 jobs in output order: split by split, scenes in id order."""
    cfg_json = cfg.to_json()
    jobs = []
    for s in SPLITS:
        for sid in sorted(sid for sid in chosen if split[sid] == s):
            items = [(key, uid, fmt, choice) for _, uid, key, fmt, choice, _ in chosen[sid]]
            used = {key: pools[(key, s)] for key, *_ in items}
            jobs.append((str(valid[sid]["report"].path), sid, str(out), cfg_json, s, items, used))
    return jobs


def _run_phase2(jobs: list[tuple], images: int, out: Path, task_names: list[str], sources: dict[str, str],
                skips: dict[str, Counter], ex) -> Made:
    """Phase 2 in the executor's workers; their records appended in job order to each split's
    samples.jsonl (written atomically: both files appear when every job is done)."""
    made = Made({s: Counter() for s in SPLITS}, {s: {t: Counter() for t in task_names} for s in SPLITS}, {})
    bar = tqdm(total=images, desc="media", unit="img", disable=None, file=sys.stderr)
    n = {s: 0 for s in SPLITS}
    try:
        with atomic_file(out / "train" / SAMPLES) as train, atomic_file(out / "bench" / SAMPLES) as bench:
            files = {"train": train, "bench": bench}
            for d in in_order(ex.run(_phase2, jobs)):
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
    """Import and load here, once, what every worker would otherwise load for itself (SciPy's
    ndimage, Pillow's codecs, the templates, the record schema): forked workers share it. Costs
    this process about 0.25 CPU s (SciPy 0.2 s), which every worker would otherwise pay again."""
    import scipy.ndimage  # noqa: F401  (qa4d.engine.measure imports it on first use)
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
        g = _gather(valid, split, task_names, summary, log)
        chosen, pools = _plan(tasks, g, cfg)
        images = sum(c[5] for items in chosen.values() for c in items)
        jobs = _phase2_jobs(chosen, pools, split, valid, out, cfg)
        del chosen
        made = _run_phase2(jobs, images, out, task_names, g.sources, g.skips, ex)
    order = {t: i for i, t in enumerate(task_names)}
    for s in SPLITS:
        summary.counts[s] = dict(sorted(made.counts[s].items(), key=lambda kv: order[kv[0]]))
    summary.skips = {t: dict(sorted(g.skips[t].items())) for t in task_names}
    summary.by_source = _by_source(made.by_source, g.sources, g.source_skips, task_names)
    write_json(out / "dataset.json", _dataset_info(cfg, scenes_root, fp, tasks, split, g.sources, made, summary))
    return summary


def _dataset_info(cfg, scenes_root: Path, fp: str, tasks, split, sources: dict[str, str], made: Made,
                  summary: Summary) -> dict[str, Any]:
    """The content of dataset.json."""
    task_names = [t.key for t in tasks]
    return {
        "format": DATASET_FORMAT,
        "fingerprint": fp,
        "settings": {**{k: v for k, v in cfg.to_json().items() if k not in ("out", "workers")},
                     "scenes": str(scenes_root.resolve())},
        "tasks": [{"name": t.name, "family": t.family, "category": t.category} for t in tasks],
        "splits": {s: {"scenes": sorted(sid for sid in sources if split[sid] == s),
                       "samples": sum(made.counts[s].values())} for s in SPLITS},
        "counts": summary.counts,
        "formats": {s: {t: dict(sorted(made.formats[s][t].items())) for t in task_names} for s in SPLITS},
        "skips": summary.skips,
        "by_source": summary.by_source,
        "scene_skips": summary.scene_skips,
        "broken_scenes": summary.broken,
        "thresholds": {fam: {src: thresholds_dict(_thresholds(fam, src, cfg)) for src in sorted(set(sources.values()))}
                       for fam in cfg.families},
    }



def _by_source(made_by_source, sources, source_skips, task_names) -> dict[str, dict[str, Any]]:
    """Per scene source: scenes, samples per task (both splits; `made_by_source`: source -> task
    -> count; `sources`: scene id -> source), and per task the phase-1 skip reasons (a task absent from `counts` was made from
    none of that source's scenes)."""
    out: dict[str, dict[str, Any]] = {}
    for src in sorted(source_skips):
        made = made_by_source.get(src, Counter())
        out[src] = {
            "scenes": sum(1 for v in sources.values() if v == src),
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
