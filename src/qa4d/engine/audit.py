"""Recompute every label and answer of a dataset from the scene geometry and measure answer bias.

Reads DATASET/dataset.json, train/ and bench/samples.jsonl and the scenes the dataset was made
from (the directory recorded in dataset.json, or --scenes). Checks, per record: the JSON schema,
that its media files exist, and that its task's `recompute` gives the same label / answer.
Reports per task the answer, label and option-position distributions and a blind baseline: an
answer-text prior fitted on train and scored on bench (mc: the option whose text was most often
right in train; yes/no: the majority answer), against chance.

Writes DATASET/audit.json. Exit code 0 when every check passes, 1 otherwise.

A bias check fails when |accuracy - chance| exceeds the tolerance (default 5 points) by more than
sampling noise can explain: the limit is max(tolerance, 2.58 * sqrt(chance * (1 - chance) / n)),
the 99% band of a chance-level guesser on n bench items, so small benches are not failed for noise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
from tqdm import tqdm

SCHEMA_PATH = Path(__file__).with_name("sample.schema.json")
SPLITS = ("train", "bench")
Z99 = 2.58


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset directory written by qa4d generate")
    parser.add_argument("--scenes", default=None, help="scene directory (default: the one recorded in dataset.json)")
    parser.add_argument("--tolerance", type=float, default=5.0, help="allowed blind-baseline distance from chance, points (5)")
    parser.add_argument("--max-report", type=int, default=20, help="disagreements printed (all are in audit.json)")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: invalid JSON ({e})") from e
    return out


def _limit(chance: float, n: int, tol_points: float) -> float:
    return max(tol_points / 100.0, Z99 * math.sqrt(chance * (1 - chance) / max(n, 1)))


def blind_baseline(train: list[dict[str, Any]], bench: list[dict[str, Any]], tol_points: float) -> dict[str, Any]:
    """Answer-text prior of one task's train records, scored on its bench records, per format."""
    out: dict[str, Any] = {}
    mc_train = [r for r in train if r["answer_format"] == "mc"]
    mc_bench = [r for r in bench if r["answer_format"] == "mc"]
    if mc_bench:
        prior = Counter(r["options"][r["answer"]] for r in mc_train)
        hits, chance = 0, 0.0
        for r in mc_bench:
            letters = sorted(r["options"])
            # highest prior wins; ties go to the earliest letter (positions are balanced, so the
            # tie-break carries no information)
            pick = max(letters, key=lambda L: (prior.get(r["options"][L], 0), -letters.index(L)))
            hits += pick == r["answer"]
            chance += 1.0 / len(letters)
        n = len(mc_bench)
        acc, ch = hits / n, chance / n
        lim = _limit(ch, n, tol_points)
        out["mc"] = {"n_train": len(mc_train), "n_bench": n, "accuracy": round(acc, 4), "chance": round(ch, 4),
                     "limit": round(lim, 4), "ok": abs(acc - ch) <= lim + 1e-12}
    yn_train = [r for r in train if r["answer_format"] == "yesno"]
    yn_bench = [r for r in bench if r["answer_format"] == "yesno"]
    if yn_bench:
        counts = Counter(r["answer"] for r in yn_train)
        majority = "yes" if counts["yes"] >= counts["no"] else "no"
        n = len(yn_bench)
        acc = sum(r["answer"] == majority for r in yn_bench) / n
        lim = _limit(0.5, n, tol_points)
        out["yesno"] = {"n_train": len(yn_train), "n_bench": n, "majority": majority, "accuracy": round(acc, 4),
                        "chance": 0.5, "limit": round(lim, 4), "ok": abs(acc - 0.5) <= lim + 1e-12}
    return out


def distributions(records: list[dict[str, Any]]) -> dict[str, Any]:
    from qa4d.engine.families.base import label_key

    fmt = Counter(r["answer_format"] for r in records)
    pos = Counter(r["answer"] for r in records if r["answer_format"] == "mc")
    yn = Counter(r["answer"] for r in records if r["answer_format"] == "yesno")
    labels = Counter(label_key(r["meta"]["label"]) for r in records if "label" in r["meta"])
    texts = Counter(r["options"][r["answer"]] for r in records if r["answer_format"] == "mc")
    return {"formats": dict(sorted(fmt.items())), "mc_positions": dict(sorted(pos.items())),
            "yesno": dict(sorted(yn.items())), "labels": dict(sorted(labels.items())),
            "mc_answer_texts": dict(texts.most_common(10))}


def position_check(records: list[dict[str, Any]], tol_points: float) -> dict[str, Any] | None:
    """Is the correct letter spread evenly over the positions? (largest share deviation)"""
    mc = [r for r in records if r["answer_format"] == "mc"]
    if not mc:
        return None
    k = max(len(r["options"]) for r in mc)
    counts = Counter(r["answer"] for r in mc)
    shares = [counts.get(chr(65 + i), 0) / len(mc) for i in range(k)]
    dev = max(abs(s - 1.0 / k) for s in shares)
    lim = _limit(1.0 / k, len(mc), tol_points)
    return {"n": len(mc), "shares": [round(s, 4) for s in shares], "max_deviation": round(dev, 4),
            "limit": round(lim, 4), "ok": dev <= lim + 1e-12}


def audit(dataset: Path, scenes: Path | None = None, tol_points: float = 5.0) -> dict[str, Any]:
    from qa4d.engine.labels import load_thresholds
    from qa4d.engine.registry import get_task
    from qa4d.scene.format import SceneError, iter_scene_dirs, load_scene, read_meta

    info = json.loads((dataset / "dataset.json").read_text())
    scenes = Path(scenes or info["settings"]["scenes"])
    overrides = info["settings"].get("thresholds")
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)

    records: dict[str, list[dict[str, Any]]] = {}
    for s in SPLITS:
        p = dataset / s / "samples.jsonl"
        records[s] = _read_jsonl(p) if p.exists() else []
    dirs = {}
    for d in iter_scene_dirs(scenes):
        try:
            dirs[read_meta(d).scene_id] = d
        except SceneError:
            continue

    disagreements: list[dict[str, Any]] = []
    schema_errors: list[dict[str, Any]] = []
    by_scene: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    ids = Counter()
    for s in SPLITS:
        for r in records[s]:
            ids[r.get("id")] += 1
            errs = sorted(validator.iter_errors(r), key=lambda e: list(e.absolute_path))
            if errs:
                schema_errors.append({"split": s, "id": r.get("id"), "error": f"{'.'.join(map(str, errs[0].absolute_path)) or '(record)'}: {errs[0].message}"})
                continue
            missing = [m for m in r["media"] if not (dataset / m).is_file()]
            if missing:
                disagreements.append({"split": s, "id": r["id"], "task": r["task"], "problems": [f"missing media {missing[0]}"]})
            by_scene[r["scene_id"]].append((s, r))
    for rid, n in ids.items():
        if n > 1:
            schema_errors.append({"split": "*", "id": rid, "error": f"id used by {n} records"})
    split_of = {sid: s for s in SPLITS for sid in info.get("splits", {}).get(s, {}).get("scenes", [])}
    leaks = sorted({r["scene_id"] for r in records["bench"]} & {r["scene_id"] for r in records["train"]})

    n_checked = 0
    bar = tqdm(total=sum(len(v) for v in by_scene.values()), desc="audit", unit="rec", disable=None, file=sys.stderr)
    for sid in sorted(by_scene):
        if sid not in dirs:
            for s, r in by_scene[sid]:
                disagreements.append({"split": s, "id": r["id"], "task": r["task"], "problems": [f"scene {sid!r} not found under {scenes}"]})
            bar.update(len(by_scene[sid]))
            continue
        scene = load_scene(dirs[sid])
        th = load_thresholds(scene.meta.source, overrides=overrides)
        for s, r in by_scene[sid]:
            if split_of and split_of.get(sid) != s:
                disagreements.append({"split": s, "id": r["id"], "task": r["task"], "problems": [f"scene {sid} belongs to split {split_of.get(sid)}"]})
            try:
                problems = get_task(r["family"], r["task"]).check(r, scene, th)
            except Exception as e:  # a record the task cannot even read is a disagreement, not a crash
                problems = [f"cannot recompute: {type(e).__name__}: {e}"]
            n_checked += 1
            if problems:
                disagreements.append({"split": s, "id": r["id"], "task": r["task"], "problems": problems})
            bar.update(1)
        scene.close()
    bar.close()

    tasks = sorted({r["task"] for s in SPLITS for r in records[s]}, key=lambda t: [x["name"] for x in info.get("tasks", [])].index(t) if t in [x["name"] for x in info.get("tasks", [])] else 99)
    per_task: dict[str, Any] = {}
    bias_failures = []
    for t in tasks:
        tr = [r for r in records["train"] if r["task"] == t]
        be = [r for r in records["bench"] if r["task"] == t]
        base = blind_baseline(tr, be, tol_points)
        pos = {s: position_check([r for r in records[s] if r["task"] == t], tol_points) for s in SPLITS}
        per_task[t] = {"train": distributions(tr), "bench": distributions(be), "blind_baseline": base, "positions": pos}
        for fmt, b in base.items():
            if not b["ok"]:
                bias_failures.append(f"{t} ({fmt}): blind baseline {100 * b['accuracy']:.1f}% vs chance {100 * b['chance']:.1f}% (limit +-{100 * b['limit']:.1f})")
        for s, p in pos.items():
            if p is not None and not p["ok"]:
                bias_failures.append(f"{t} ({s}): correct-letter shares {p['shares']} off by {100 * p['max_deviation']:.1f} points")
    ok = not disagreements and not schema_errors and not bias_failures and not leaks
    return {
        "ok": ok,
        "dataset": str(dataset),
        "scenes": str(scenes),
        "records": {s: len(records[s]) for s in SPLITS},
        "checked": n_checked,
        "disagreements": disagreements,
        "schema_errors": schema_errors,
        "scene_leaks": leaks,
        "bias_failures": bias_failures,
        "tolerance_points": tol_points,
        "tasks": per_task,
    }


def run(args: argparse.Namespace) -> int:
    from qa4d.engine.writer import write_json

    dataset = Path(args.dataset)
    if not (dataset / "dataset.json").is_file():
        print(f"qa4d audit: {dataset}: no dataset.json (not a dataset written by qa4d generate)", file=sys.stderr)
        return 2
    try:
        report = audit(dataset, Path(args.scenes) if args.scenes else None, args.tolerance)
    except (ValueError, OSError) as e:
        print(f"qa4d audit: {e}", file=sys.stderr)
        return 2
    write_json(dataset / "audit.json", report)
    out = sys.stdout
    print(f"checked {report['checked']} records ({report['records']['train']} train, {report['records']['bench']} bench)", file=out)
    print(f"{'task':<34}{'mc blind/chance':>18}{'yes/no blind':>14}  mc positions (train)", file=out)
    for t, d in report["tasks"].items():
        b = d["blind_baseline"]
        mc = f"{100 * b['mc']['accuracy']:.0f}/{100 * b['mc']['chance']:.0f}% n={b['mc']['n_bench']}" if "mc" in b else "-"
        yn = f"{100 * b['yesno']['accuracy']:.0f}% n={b['yesno']['n_bench']}" if "yesno" in b else "-"
        pos = d["train"]["mc_positions"]
        print(f"{t:<34}{mc:>18}{yn:>14}  {pos}", file=out)
    for e in report["schema_errors"][: args.max_report]:
        print(f"SCHEMA {e['split']} {e['id']}: {e['error']}", file=out)
    for d in report["disagreements"][: args.max_report]:
        print(f"DISAGREE {d['split']} {d['id']} ({d['task']}): {'; '.join(d['problems'])}", file=out)
    if len(report["disagreements"]) > args.max_report:
        print(f"... {len(report['disagreements']) - args.max_report} more in audit.json", file=out)
    for f in report["bias_failures"]:
        print(f"BIAS {f}", file=out)
    for sid in report["scene_leaks"]:
        print(f"LEAK scene {sid} is in both splits", file=out)
    print(f"audit {'passed' if report['ok'] else 'FAILED'}: {len(report['disagreements'])} disagreements, "
          f"{len(report['schema_errors'])} schema errors, {len(report['bias_failures'])} bias failures", file=out)
    return 0 if report["ok"] else 1
