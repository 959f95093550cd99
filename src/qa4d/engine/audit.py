"""Recompute every label and answer of a dataset from the scene geometry and test it for answer bias.

Reads DATASET/dataset.json, train/ and bench/samples.jsonl and the scenes the dataset was made
from (the directory recorded in dataset.json, or --scenes). Checks, per record: the JSON schema,
that its media files exist, that its scene is in its split, and that its task's `check` gives the
same label / answer.

Bias: blind baselines (`audit_baselines`: correct-letter position, answer-text prior, and a text
model over option words and question x option words; for yes/no the majority and a text model over
the question) are fitted on train and scored on bench, per task and answer format, and pooled over
all tasks; and every option word of a task is tested over its train and bench items (is the
correct option the one holding it more or less often than chance?). Each count is tested against
chance with an exact binomial (Poisson-binomial) test; Holm's procedure over all the tests that
could reach significance (Tarone's screen) keeps the chance of failing an unbiased dataset at most
--alpha (1%); a significant test fails only when it is also more than --tolerance (5 points) from
chance. docs/engine.md says what can be detected at which size.

Writes DATASET/audit.json. Exit code 0 when every check passes, 1 otherwise, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from qa4d.dataset import schema_errors as record_schema_errors
from qa4d._io import iter_jsonl, resolve_inside, write_json_atomic
from qa4d.engine.audit_numeric import numeric_priors, report_lines
from qa4d.engine.registry import RegistryError, add_family_path
from qa4d.engine.audit_baselines import family_text_tests, task_tests
from qa4d.engine.audit_stats import ALPHA, TOLERANCE, BiasTest, decide, format_p, pooled

SPLITS = ("train", "bench")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset directory written by qa4d generate")
    parser.add_argument("--scenes", default=None, help="scene directory (default: the one recorded in dataset.json)")
    parser.add_argument("--alpha", type=float, default=100 * ALPHA,
                        help="family-wise error of the bias tests, percent (1): the chance an unbiased dataset fails")
    parser.add_argument("--tolerance", type=float, default=100 * TOLERANCE,
                        help="accuracy above chance a blind baseline may reach, points (5)")
    parser.add_argument("--family-path", action="append", default=[], metavar="DIR",
                        help="a folder of family packages the dataset used (as given to qa4d generate; also QA4D_FAMILY_PATH)")
    parser.add_argument("--max-report", type=int, default=20, help="disagreements printed (all are in audit.json)")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [r for _, r in iter_jsonl(path)]


def distributions(records: list[dict[str, Any]]) -> dict[str, Any]:
    from qa4d.engine.kinds.base import label_key

    fmt = Counter(r["answer_format"] for r in records)
    pos = Counter(r["answer"] for r in records if r["answer_format"] == "mc")
    yn = Counter(r["answer"] for r in records if r["answer_format"] == "yesno")
    labels = Counter(label_key(r["meta"]["label"]) for r in records if "label" in r["meta"])
    texts = Counter(r["options"][r["answer"]] for r in records if r["answer_format"] == "mc")
    return {"formats": dict(sorted(fmt.items())), "mc_positions": dict(sorted(pos.items())),
            "yesno": dict(sorted(yn.items())), "labels": dict(sorted(labels.items())),
            "mc_answer_texts": dict(texts.most_common(10))}


def _schema_pass(dataset: Path, records: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Records that pass the JSON schema (per split), schema errors (and reused ids), missing media."""
    valid: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    schema_errors: list[dict[str, Any]] = []
    missing_media: list[dict[str, Any]] = []
    ids: Counter[Any] = Counter()
    for s in SPLITS:
        for r in records[s]:
            ids[r.get("id") if isinstance(r, dict) else None] += 1
            errs = record_schema_errors(r)
            if errs:
                schema_errors.append({"split": s, "id": r.get("id") if isinstance(r, dict) else None, "error": errs[0]})
                continue
            missing = [m for m in r["media"] if not _media_file(dataset, m)]
            if missing:
                missing_media.append({"split": s, "id": r["id"], "family": r["family"], "task": r["task"], "problems": [f"missing media {missing[0]}"]})
            valid[s].append(r)
    for rid, n in ids.items():
        if n > 1:
            schema_errors.append({"split": "*", "id": rid, "error": f"id used by {n} records"})
    return valid, schema_errors, missing_media


def _media_file(dataset: Path, rel: str) -> bool:
    """True when `rel` names a file inside the dataset (a path leading outside it counts as missing)."""
    try:
        return resolve_inside(dataset, rel).is_file()
    except ValueError:
        return False


def _recompute(valid: dict[str, list[dict[str, Any]]], scenes: Path, info: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Each record's task `check` against its scene: (records checked, disagreements)."""
    from qa4d.engine.registry import get_task, thresholds_for
    from qa4d.scene.format import SceneError, iter_scene_dirs, load_scene, read_meta

    overrides = info["settings"].get("thresholds")
    dirs = {}
    for d in iter_scene_dirs(scenes):
        try:
            dirs[read_meta(d).scene_id] = d
        except SceneError:
            continue
    by_scene: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for s in SPLITS:
        for r in valid[s]:
            by_scene[r["scene_id"]].append((s, r))
    split_of = {sid: s for s in SPLITS for sid in info.get("splits", {}).get(s, {}).get("scenes", [])}
    disagreements: list[dict[str, Any]] = []
    n_checked = 0
    bar = tqdm(total=sum(len(v) for v in by_scene.values()), desc="audit", unit="rec", disable=None, file=sys.stderr)
    for sid in sorted(by_scene):
        if sid not in dirs:
            for s, r in by_scene[sid]:
                disagreements.append({"split": s, "id": r["id"], "family": r["family"], "task": r["task"], "problems": [f"scene {sid!r} not found under {scenes}"]})
            bar.update(len(by_scene[sid]))
            continue
        scene = load_scene(dirs[sid])
        for s, r in by_scene[sid]:
            if split_of and split_of.get(sid) != s:
                disagreements.append({"split": s, "id": r["id"], "family": r["family"], "task": r["task"], "problems": [f"scene {sid} belongs to split {split_of.get(sid)}"]})
            try:
                th = thresholds_for(r["family"], scene.meta.source, overrides)
                problems = get_task(r["family"], r["task"]).check(r, scene, th)
            except Exception as e:  # a record the task cannot even read is a disagreement, not a crash
                problems = [f"cannot recompute: {type(e).__name__}: {e}"]
            n_checked += 1
            if problems:
                disagreements.append({"split": s, "id": r["id"], "family": r["family"], "task": r["task"], "problems": problems})
            bar.update(1)
        scene.close()
    bar.close()
    return n_checked, disagreements


def audit(dataset: Path, scenes: Path | None = None, alpha: float = ALPHA, tolerance: float = TOLERANCE) -> dict[str, Any]:
    """The whole audit of one dataset (see the module docstring); the report written to audit.json."""
    info = json.loads((dataset / "dataset.json").read_text())
    scenes = Path(scenes or info["settings"]["scenes"])
    records: dict[str, list[dict[str, Any]]] = {}
    for s in SPLITS:
        p = dataset / s / "samples.jsonl"
        records[s] = _read_jsonl(p) if p.exists() else []
    valid, schema_errors, disagreements = _schema_pass(dataset, records)
    n_checked, wrong = _recompute(valid, scenes, info)
    disagreements += wrong
    leaks = sorted({r["scene_id"] for r in valid["bench"]} & {r["scene_id"] for r in valid["train"]})

    order = [(x.get("family", ""), x["name"]) for x in info.get("tasks", [])]
    tasks = sorted({(r["family"], r["task"]) for s in SPLITS for r in valid[s]},
                   key=lambda t: (order.index(t) if t in order else len(order), t))
    accepts = family_accepts(sorted({f for f, _ in tasks}))
    bias = bias_audit(valid["train"], valid["bench"], tasks, alpha, tolerance, accepts)
    priors = numeric_priors(valid["train"], valid["bench"], tasks)
    ok = not disagreements and not schema_errors and not bias["failures"] and not leaks
    return {
        "ok": ok,
        "dataset": str(dataset),
        "scenes": str(scenes),
        "records": {s: len(records[s]) for s in SPLITS},
        "checked": n_checked,
        "disagreements": disagreements,
        "schema_errors": schema_errors,
        "scene_leaks": leaks,
        "bias_failures": bias["failures"],
        "bias_accepted": bias["accepted"],
        "bias_tests": bias["tests"],
        "alpha": alpha,
        "tolerance": tolerance,
        "tasks": bias["tasks"],
        "numeric_priors": priors,
    }


BASELINE_LABELS = {"position": "position baseline (most frequent correct letter)",
                   "prior": "answer-prior baseline", "text": "text baseline",
                   "numeric_rank": "numeric-rank baseline (option at the rank most often right)",
                   "word": "option-word test"}
Group = tuple[str, str]  # (family, task)


def group_name(g: Group) -> str:
    """'family/task' (the name printed and the key of the report's `tasks`)."""
    return f"{g[0]}/{g[1]}" if g[0] else g[1]


def family_accepts(families: list[str]) -> dict[str, dict[str, set[str]]]:
    """Per family, per task ("*": every task) the baselines it accepts by design (`read_accepts` of
    its thresholds.json); families that accept nothing are left out."""
    from qa4d.engine.registry import get_family

    out = {}
    for fam in families:
        path = get_family(fam).thresholds_file
        table = read_accepts(path) if path.is_file() else {}
        if table:
            out[fam] = table
    return out


def read_accepts(path: Path) -> dict[str, set[str]]:
    """The top-level `audit_accepts` of a family's thresholds.json: a list of baseline names (every
    task of the family) or an object {task: [names]}; {} when absent. Raises ValueError naming the
    file, the key and what is wrong."""
    from qa4d.engine.audit_baselines import BASELINE_NAMES
    from qa4d.engine.thresholds import read_json

    raw = read_json(path).get("audit_accepts")
    if raw is None:
        return {}
    table = {"*": raw} if isinstance(raw, list) else raw
    if not isinstance(table, dict):
        raise ValueError(f"{path}: audit_accepts must be a list of baseline names or an object {{task: [names]}}, got {raw!r}")
    out = {}
    for task, names in table.items():
        bad = [n for n in names if n not in BASELINE_NAMES] if isinstance(names, list) else [names]
        if bad:
            raise ValueError(f"{path}: audit_accepts: {bad[0]!r} (for {'every task' if task == '*' else task}) is not "
                             f"a baseline name ({', '.join(BASELINE_NAMES)})")
        out[str(task)] = set(names)
    return out


def accepted_by(accepts: dict[str, dict[str, set[str]]], family: str, task: str, baseline: str) -> bool:
    """Does `family` accept, on `task`, the shortcut that `baseline` tests (SHORTCUT: the rank test
    is the numeric-rank shortcut)?"""
    from qa4d.engine.audit_baselines import SHORTCUT

    fam = accepts.get(family, {})
    return SHORTCUT.get(baseline, baseline) in fam.get("*", set()) | fam.get(task, set())


def bias_audit(train: list[dict[str, Any]], bench: list[dict[str, Any]], tasks: list[Group] | None = None,
               alpha: float = ALPHA, tolerance: float = TOLERANCE,
               accepts: dict[str, dict[str, set[str]]] | None = None) -> dict[str, Any]:
    """Every blind baseline per (family, task) and format, every option / question word per
    (family, task), the text baselines fitted over each family's tasks, and each per-task test pooled
    over all tasks, decided as one family (Tarone's screen, then Holm at `alpha`). Tests of a
    baseline a family accepts by design (`accepts`, from `family_accepts`) are reported with their
    figures and raw p-values but stay out of the Holm family and of the pools, and never fail.

    tasks: the (family, task) groups in report order (default: those of the records, sorted).
    Returns {"tests": [test json...], "failures": [message...], "accepted": [message per group,
    format and baseline accepted: its test with the smallest p],
    "tasks": {"family/task": distributions and that task's tests}}."""
    accepts = accepts or {}
    if tasks is None:
        tasks = sorted({(r["family"], r["task"]) for r in train + bench})
    per_task, tests = {}, []
    for g in tasks:
        tr = [r for r in train if (r["family"], r["task"]) == g]
        be = [r for r in bench if (r["family"], r["task"]) == g]
        per_task[group_name(g)] = {"train": distributions(tr), "bench": distributions(be)}
        tests += task_tests(g[1], tr, be, family=g[0])
    for t in tests:
        t.accepted = accepted_by(accepts, t.family, t.task, t.baseline)
    no_text = {g for g in tasks if accepted_by(accepts, *g, "text")}
    fam_tests = family_text_tests([r for r in train if (r["family"], r["task"]) not in no_text],
                                  [r for r in bench if (r["family"], r["task"]) not in no_text], sorted({f for f, _ in tasks}))
    family = decide(tests + fam_tests + pooled(tests), alpha, tolerance)
    for t in tests:
        per_task[group_name(t.key)].setdefault("baselines", []).append(t.to_json())
    failures = [describe(t, tests) for t in family if t.failed]
    best: dict[tuple[str, str, str, str], BiasTest] = {}  # per group, format and baseline: the smallest p
    for t in family:
        k = (t.family, t.task, t.answer_format, t.baseline)
        if t.accepted and (k not in best or t.p_value < best[k].p_value):
            best[k] = t
    accepted = [describe(t, tests) + f"; accepted by design ({t.family} thresholds.json audit_accepts)"
                for t in family if t.accepted and best[(t.family, t.task, t.answer_format, t.baseline)] is t]
    return {"tests": [t.to_json() for t in family], "failures": failures, "accepted": accepted, "tasks": per_task}


def telling_features(t: BiasTest, tests: list[BiasTest]) -> str:
    """The text model's most telling features behind a failed text baseline (for a test pooled over
    every family: the features that lead in most of the tasks whose baseline beat chance)."""
    if t.task != "*" or t.family:
        lead = t.details.get("leading_features", [])
        if t.answer_format == "mc":
            return ", ".join(f"'{f['feature']}' (in {f['in_correct']}/{f['correct_rows']} correct options, "
                             f"{f['in_wrong']}/{f['wrong_rows']} wrong)" for f in lead[:4])
        return "; ".join(f"for {c}: " + ", ".join(f"'{f[0]}'" for f in fs[:4]) for c, fs in lead.items() if fs)
    votes: Counter[str] = Counter()
    for u in tests:
        if u.baseline == t.baseline and u.answer_format == t.answer_format and u.accuracy > u.chance and u.task != "*":
            lead = u.details.get("leading_features", [])
            names = [f["feature"] for f in lead[:5]] if t.answer_format == "mc" else [f[0] for fs in lead.values() for f in fs[:3]]
            votes.update(dict.fromkeys(names, 1))
    return ", ".join(f"'{f}' (leads in {n} tasks)" for f, n in sorted(votes.items(), key=lambda x: (-x[1], x[0]))[:4])


def describe(t: BiasTest, tests: list[BiasTest]) -> str:
    """One line: (family/)task, format, baseline, accuracy vs chance, p-value (raw and Holm) and,
    for the text baseline, the most telling features."""
    where = t.name
    if t.baseline == "word" and t.answer_format == "yesno":
        return (f"{where} (yesno): question word '{t.details['word']}': the answer is yes for "
                f"{int(sum(t.hits))}/{t.n} items asking it (train and bench) vs chance 50.0%, "
                f"p = {format_p(t.p_value)} ({_adjusted(t)}, two-sided)")
    if t.baseline == "rank":
        return (f"{where} ({t.answer_format}): the answer is the {t.details['rank']} of the {t.details['options']} "
                f"numeric options in {int(sum(t.hits))}/{t.n} items (train and bench) vs chance {100 * t.chance:.1f}%, "
                f"p = {format_p(t.p_value)} ({_adjusted(t)})")
    if t.baseline == "word":
        return (f"{where} ({t.answer_format}): option word '{t.details['word']}' is in the correct option of "
                f"{int(sum(t.hits))}/{t.n} items offering it (train and bench) vs chance {100 * t.chance:.1f}%, "
                f"p = {format_p(t.p_value)} ({_adjusted(t)}, two-sided)")
    msg = (f"{where} ({t.answer_format}): {BASELINE_LABELS[t.baseline]} {100 * t.accuracy:.1f}% vs chance "
           f"{100 * t.chance:.1f}% on {t.n} bench items, p = {format_p(t.p_value)} ({_adjusted(t)})")
    if t.baseline == "text":
        feats = telling_features(t, tests)
        if feats:
            msg += f"; most telling features: {feats}"
    elif t.task == "*":
        pass
    elif t.baseline == "prior" and t.answer_format == "mc":
        msg += "; texts most often right in train: " + ", ".join(f"'{x[0]}' ({x[1]}/{x[2]})" for x in t.details["top_texts"][:3])
    elif t.baseline == "prior":
        msg += f"; always '{t.details['majority']}' (train counts {t.details['train_counts']})"
    elif t.baseline == "position":
        msg += f"; letter {t.details['letter']} (train counts {t.details['train_counts']})"
    elif t.baseline == "numeric_rank":
        msg += "; " + ", ".join(f"of {k} options the {name} (train counts {t.details['train_counts'][k]})"
                                for k, name in t.details["rank"].items())
    return msg


def _adjusted(t: BiasTest) -> str:
    return "not in the Holm family: accepted" if t.accepted else f"Holm-adjusted {format_p(t.adjusted_p)}"


def _cell(t: dict[str, Any] | None) -> str:
    if t is None:
        return "-"
    mark = " FAIL" if t["failed"] else (" sig" if t["significant"] else (" acc" if t.get("accepted") else ""))
    return f"{100 * t['accuracy']:.0f}% p={format_p(t['p_value'])}{mark}"


def _check_fraction(name: str, value: float) -> float:
    if not 0 < value < 100:
        raise ValueError(f"--{name} must be a percentage in (0, 100), got {value}")
    return value / 100.0


def run(args: argparse.Namespace) -> int:
    dataset = Path(args.dataset)
    if not (dataset / "dataset.json").is_file():
        print(f"qa4d audit: {dataset}: no dataset.json (not a dataset written by qa4d generate)", file=sys.stderr)
        return 2
    try:
        for d in getattr(args, "family_path", []):
            add_family_path(d)
        alpha, tol = _check_fraction("alpha", args.alpha), _check_fraction("tolerance", args.tolerance)
        report = audit(dataset, Path(args.scenes) if args.scenes else None, alpha, tol)
    except (ValueError, OSError, RegistryError) as e:
        print(f"qa4d audit: {e}", file=sys.stderr)
        return 2
    write_json_atomic(dataset / "audit.json", report)
    out = sys.stdout
    print(f"checked {report['checked']} records ({report['records']['train']} train, {report['records']['bench']} bench); "
          f"bias tests: exact binomial, Holm at {100 * alpha:g}% over the {sum(t['testable'] for t in report['bias_tests'])} "
          f"of {len(report['bias_tests'])} tests that can reach significance (Tarone's screen), "
          f"failing above chance + {100 * tol:g} points", file=out)
    cols = ("position", "prior", "text", "numeric_rank")
    print(f"{'family/task':<40}{'fmt':<6}{'bench':>6}{'chance':>8}  " + "".join(f"{c:<20}" for c in cols)
          + "word or rank with the smallest p (train+bench; yes/no: share of yes)", file=out)
    rows: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    best_word: dict[tuple[str, str], dict[str, Any]] = {}
    for t in report["bias_tests"]:  # rows in the order groups first appear
        key = (t["name"], t["format"])
        row = rows[key]
        if t["baseline"] in ("word", "rank"):
            if key not in best_word or t["p_value"] < best_word[key]["p_value"]:
                best_word[key] = t
        else:
            row[t["baseline"]] = t
    for (name, fmt), row in rows.items():
        w = best_word.get((name, fmt))
        any_t = row.get("text") or next(iter(row.values()), None)
        bench = f"{any_t['n']:>6}{100 * any_t['chance']:>7.0f}%" if any_t else f"{'-':>6}{'-':>8}"
        what = (f"'{w['word']}'" if w["baseline"] == "word" else f"{w['rank']} of {w['options']}") if w else ""
        word = f"{what} {w['hits']}/{w['n']} {_cell(w)}" if w else "-"
        print(f"{name:<40}{fmt:<6}{bench}  " + "".join(f"{_cell(row.get(b)):<20}" for b in cols) + word, file=out)
    for line in report_lines(report["numeric_priors"]):
        print(line, file=out)
    for e in report["schema_errors"][: args.max_report]:
        print(f"SCHEMA {e['split']} {e['id']}: {e['error']}", file=out)
    for d in report["disagreements"][: args.max_report]:
        print(f"DISAGREE {d['split']} {d['id']} ({d['family']}/{d['task']}): {'; '.join(d['problems'])}", file=out)
    if len(report["disagreements"]) > args.max_report:
        print(f"... {len(report['disagreements']) - args.max_report} more in audit.json", file=out)
    for f in report["bias_failures"]:
        print(f"BIAS {f}", file=out)
    for f in report["bias_accepted"]:
        print(f"ACCEPTED {f}", file=out)
    for sid in report["scene_leaks"]:
        print(f"LEAK scene {sid} is in both splits", file=out)
    print(f"audit {'passed' if report['ok'] else 'FAILED'}: {len(report['disagreements'])} disagreements, "
          f"{len(report['schema_errors'])} schema errors, {len(report['bias_failures'])} bias failures", file=out)
    return 0 if report["ok"] else 1
