"""Phase 2 of `qa4d generate`, one scene per job in the executor's workers: the scene's chosen
candidates are worded from the templates, their media written atomically into the output root
(existing media files are complete: skipped) and their records validated; a job returns the
records' samples.jsonl text, which the command appends in output order (split by split, scenes
in id order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qa4d._io import jsonl_line
from qa4d.dataset.records import RecordError, validate_record
from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.base import RenderEnv, Skip
from qa4d.engine.references import prompts_by_media
from qa4d.engine.registry import resolve_tasks
from qa4d.engine.sampling import rng_for
from qa4d.engine.writer import MediaWriter, candidates_path, frame_media_path, prompt_media_path
from qa4d.scene.format import load_scene


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


def phase2_job(job: tuple) -> dict[str, Any]:
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
