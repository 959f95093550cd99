"""Recompute every label and answer of a dataset from the scene geometry and measure answer bias.

Reads DATASET/dataset.json, train/ and bench/samples.jsonl and the scenes the dataset was made
from (the directory recorded in dataset.json, or --scenes). Checks, per record: the JSON schema,
that its media files exist, and that its task's `recompute` gives the same label / answer.
Reports per task the answer, label and option-position distributions and a blind baseline: an
answer-text prior fitted on train and scored on bench (mc: the option whose text was most often
right in train; yes/no: the majority answer), against chance; and a text baseline: a multinomial
naive Bayes over the word unigrams and bigrams of the question (and, for mc, of each option plus
its length), also fitted on train and scored on bench, which catches answers leaking through the
wording.

Writes DATASET/audit.json. Exit code 0 when every check passes, 1 otherwise.

A bias check (either baseline) fails when |accuracy - chance| exceeds the tolerance (default 5
points) by more than sampling noise can explain: the limit is max(tolerance, 2.58 * sqrt(chance * (1 - chance) / n)),
the 99% band of a chance-level guesser on n bench items, so small benches are not failed for noise.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
from tqdm import tqdm

from qa4d._io import resolve_inside

SCHEMA_PATH = Path(__file__).with_name("sample.schema.json")
SPLITS = ("train", "bench")
Z99 = 2.58
_WORD = re.compile(r"[a-z0-9]+")


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


def text_features(text: str, prefix: str = "") -> list[str]:
    """Lower-cased word unigrams and bigrams of `text`, each prefixed with `prefix`. Pure numbers
    (frame indices, coordinates) are left out: they are drawn per sample, and on a small train
    split their chance correlations would drown a real leak."""
    toks = [t for t in _WORD.findall(text.lower()) if not t.isdigit()]
    return [prefix + t for t in toks] + [f"{prefix}{a} {b}" for a, b in zip(toks, toks[1:])]


def _length_bucket(text: str) -> str:
    # word counts 1..5 apart, longer ones together: enough to see "the correct option is longer"
    return f"len:{min(len(_WORD.findall(text)), 6)}"


class NaiveBayes:
    """Multinomial naive Bayes over string features with Laplace (add-alpha) smoothing.

    fit(docs, labels): docs is a list of feature lists (a feature may repeat: counts add up).
    Classes are the sorted distinct labels; class priors are the train frequencies;
    P(f | c) = (count(f, c) + alpha) / (total(c) + alpha * V), V = number of distinct train features.
    Features never seen in train are ignored when scoring. Deterministic: no randomness, vocabulary
    and classes in sorted order.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        if alpha <= 0:
            raise ValueError(f"NaiveBayes: alpha must be > 0, got {alpha}")
        self.alpha = alpha
        self.classes: list[str] = []
        self.vocab: dict[str, int] = {}
        self.log_prior = np.zeros(0)
        self.log_lik = np.zeros((0, 0))
        self.counts = np.zeros((0, 0))

    def fit(self, docs: list[list[str]], labels: list[str]) -> "NaiveBayes":
        if len(docs) != len(labels) or not docs:
            raise ValueError(f"NaiveBayes.fit: need as many labels as docs, and at least one ({len(docs)} docs, {len(labels)} labels)")
        self.classes = sorted(set(labels))
        self.vocab = {f: i for i, f in enumerate(sorted({f for d in docs for f in d}))}
        ci = {c: i for i, c in enumerate(self.classes)}
        y = np.array([ci[c] for c in labels])
        counts = np.zeros((len(self.classes), len(self.vocab)))  # (C, V)
        rows = np.repeat(y, [len(d) for d in docs])
        cols = np.array([self.vocab[f] for d in docs for f in d], dtype=np.int64)
        np.add.at(counts, (rows, cols), 1.0)
        self.counts = counts
        self.log_prior = np.log(np.bincount(y, minlength=len(self.classes)) / len(y))  # (C,)
        smoothed = counts + self.alpha
        self.log_lik = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))  # (C, V)
        return self

    def log_posterior(self, docs: list[list[str]]) -> np.ndarray:
        """(N, C) normalised log posteriors, columns in `self.classes` order."""
        scores = np.tile(self.log_prior, (len(docs), 1))
        doc_ids = [n for n, d in enumerate(docs) for f in d if f in self.vocab]
        cols = [self.vocab[f] for d in docs for f in d if f in self.vocab]
        if cols:
            np.add.at(scores, np.array(doc_ids), self.log_lik[:, np.array(cols)].T)
        return scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)

    def predict(self, docs: list[list[str]]) -> list[str]:
        """Most probable class per doc; ties go to the first class in sorted order."""
        return [self.classes[i] for i in np.argmax(self.log_posterior(docs), axis=1)]

    def leading_features(self, cls: str, k: int = 8, min_count: int = 5) -> list[list[Any]]:
        """The k features (seen >= min_count times in train) that most favour `cls` over the other
        classes: [feature, log-likelihood ratio, train count], strongest first."""
        if cls not in self.classes or not self.vocab:
            return []
        c = self.classes.index(cls)
        other = np.delete(self.counts, c, axis=0).sum(axis=0) + self.alpha
        other_ll = np.log(other) - np.log(other.sum())
        ratio = self.log_lik[c] - other_ll
        total = self.counts.sum(axis=0)
        names = sorted(self.vocab, key=self.vocab.get)
        order = sorted((i for i in range(len(names)) if total[i] >= min_count), key=lambda i: (-ratio[i], names[i]))
        return [[names[i], round(float(ratio[i]), 3), int(total[i])] for i in order[:k]]


def mc_option_features(record: dict[str, Any], letter: str, question: list[str] | None = None) -> list[str]:
    """Features of one mc option: the question's, the option's own ("opt:" prefix) and its length."""
    text = record["options"][letter]
    q = text_features(record["question"]) if question is None else question
    return q + text_features(text, "opt:") + [_length_bucket(text)]


def text_baseline(train: list[dict[str, Any]], bench: list[dict[str, Any]], tol_points: float) -> dict[str, Any]:
    """Naive Bayes on the text alone, fitted on one task's train records, scored on its bench
    records, per format. yes/no: question features -> yes/no. mc: each option (question + option
    features) -> correct / incorrect; the option with the highest posterior of "correct" is picked,
    ties to the earliest letter. Free and track formats are not scored. Same keys and limit rule as
    `blind_baseline`, plus the features that most favour each answer (to find a leak)."""
    out: dict[str, Any] = {}
    mc_train = [r for r in train if r["answer_format"] == "mc"]
    mc_bench = [r for r in bench if r["answer_format"] == "mc"]
    if mc_bench and mc_train:
        docs, labels = [], []
        for r in mc_train:
            q = text_features(r["question"])
            for L in sorted(r["options"]):
                docs.append(mc_option_features(r, L, q))
                labels.append("correct" if L == r["answer"] else "incorrect")
        nb = NaiveBayes().fit(docs, labels)
        hits, chance = 0, 0.0
        for r in mc_bench:
            letters = sorted(r["options"])
            q = text_features(r["question"])
            post = nb.log_posterior([mc_option_features(r, L, q) for L in letters])
            p_correct = post[:, nb.classes.index("correct")] if "correct" in nb.classes else np.zeros(len(letters))
            hits += letters[int(np.argmax(p_correct))] == r["answer"]  # argmax: first of equal maxima
            chance += 1.0 / len(letters)
        n = len(mc_bench)
        acc, ch = hits / n, chance / n
        lim = _limit(ch, n, tol_points)
        out["mc"] = {"n_train": len(mc_train), "n_bench": n, "accuracy": round(acc, 4), "chance": round(ch, 4),
                     "limit": round(lim, 4), "ok": abs(acc - ch) <= lim + 1e-12,
                     "leading_features": {c: nb.leading_features(c) for c in nb.classes}}
    yn_train = [r for r in train if r["answer_format"] == "yesno"]
    yn_bench = [r for r in bench if r["answer_format"] == "yesno"]
    if yn_bench and yn_train:
        nb = NaiveBayes().fit([text_features(r["question"]) for r in yn_train], [r["answer"] for r in yn_train])
        pred = nb.predict([text_features(r["question"]) for r in yn_bench])
        n = len(yn_bench)
        acc = sum(p == r["answer"] for p, r in zip(pred, yn_bench)) / n
        lim = _limit(0.5, n, tol_points)
        out["yesno"] = {"n_train": len(yn_train), "n_bench": n, "accuracy": round(acc, 4), "chance": 0.5,
                        "limit": round(lim, 4), "ok": abs(acc - 0.5) <= lim + 1e-12,
                        "leading_features": {c: nb.leading_features(c) for c in nb.classes}}
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


def _media_file(dataset: Path, rel: str) -> bool:
    """True when `rel` names a file inside the dataset (a path leading outside it counts as missing)."""
    try:
        return resolve_inside(dataset, rel).is_file()
    except ValueError:
        return False


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
            missing = [m for m in r["media"] if not _media_file(dataset, m)]
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
        text = text_baseline(tr, be, tol_points)
        pos = {s: position_check([r for r in records[s] if r["task"] == t], tol_points) for s in SPLITS}
        per_task[t] = {"train": distributions(tr), "bench": distributions(be), "blind_baseline": base,
                       "text_baseline": text, "positions": pos}
        for fmt, b in base.items():
            if not b["ok"]:
                bias_failures.append(f"{t} ({fmt}): blind baseline {100 * b['accuracy']:.1f}% vs chance {100 * b['chance']:.1f}% (limit +-{100 * b['limit']:.1f})")
        for fmt, b in text.items():
            if not b["ok"]:
                lead = "; ".join(f"{c}: {', '.join(repr(f[0]) for f in fs[:4])}" for c, fs in b["leading_features"].items() if fs)
                bias_failures.append(f"{t} ({fmt}): text baseline {100 * b['accuracy']:.1f}% vs chance {100 * b['chance']:.1f}% "
                                     f"(limit +-{100 * b['limit']:.1f}); most telling words for {lead}")
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
    print(f"{'task':<34}{'mc blind/chance':>18}{'yes/no blind':>14}{'text mc/yes-no':>16}  mc positions (train)", file=out)
    for t, d in report["tasks"].items():
        b = d["blind_baseline"]
        mc = f"{100 * b['mc']['accuracy']:.0f}/{100 * b['mc']['chance']:.0f}% n={b['mc']['n_bench']}" if "mc" in b else "-"
        yn = f"{100 * b['yesno']['accuracy']:.0f}% n={b['yesno']['n_bench']}" if "yesno" in b else "-"
        tb = d.get("text_baseline", {})
        txt = "/".join(f"{100 * tb[f]['accuracy']:.0f}%" if f in tb else "-" for f in ("mc", "yesno"))
        pos = d["train"]["mc_positions"]
        print(f"{t:<34}{mc:>18}{yn:>14}{txt:>16}  {pos}", file=out)
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
