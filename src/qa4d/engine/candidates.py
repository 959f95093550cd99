"""Phase 1 of `qa4d generate`, one scene per job in the executor's workers: the scene check and
its candidates.

The scene is checked (the checks of `qa4d validate`, every frame decoded); a valid scene whose id
no other scene claims gets its candidates: every task samples segments and objects, measures,
labels and chooses object references. They go to one JSON file per scene, written atomically; a
file from a run with the same settings is read instead of redone, so a killed run resumes where
it stopped. A job returns only compact descriptors (`Desc`: uid, label key, allowed formats,
counts), never geometry, text or images: balancing (qa4d.engine.plan) needs no more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.base import SceneContext, Skip
from qa4d.engine.registry import resolve_tasks
from qa4d.engine.writer import candidates_path, write_json
from qa4d.scene.format import Scene, SceneError, read_meta
from qa4d.scene.validate import check_scene_arrays


def _thresholds(family: str, source: str, cfg: GenerateConfig):
    from qa4d.engine.registry import thresholds_for

    return thresholds_for(family, source, cfg.thresholds)


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


def phase1_job(job: tuple[str, str, dict[str, Any], str, bool]) -> dict[str, Any]:
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
