"""Does the audit's bias check pass clean datasets and catch a planted word? Measured on datasets
you give it (e.g. `qa4d simulate --scenes 8 --frames 16 --size 96 --seed K` + `qa4d generate`).

Per dataset: the bias tests of the dataset as it is (clean), then once per mc (family, task) with
WORD appended to the correct option of every mc record of that task, then with it on every task. A
plant counts as caught when a bias failure names the word (or, for the text baseline, lists it
first); it is also counted per detector: by the option-word test (a failed word test on WORD) and by
the fitted text baseline (any failed text test: per task, per family or pooled; a clean dataset
fails none). Only the bias tests run (the records are not recomputed against their scenes). Reads
the datasets, writes nothing.

    python scripts/audit_planted.py DATASET... [--word clearly] [--src DIR]

--src DIR imports qa4d from DIR (e.g. an older tree extracted with `git archive`), to measure the
audit before a change with the same script.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def load(ds: Path) -> dict[str, list[dict]]:
    from qa4d._io import iter_jsonl

    return {s: [r for _, r in iter_jsonl(ds / s / "samples.jsonl")] for s in ("train", "bench")}


def key(r: dict) -> tuple[str, str]:
    return (r.get("family", ""), r["task"])


def planted(recs: dict[str, list[dict]], word: str, task: tuple[str, str] | None) -> dict[str, list[dict]]:
    out = copy.deepcopy(recs)
    for rs in out.values():
        for r in rs:
            if r["answer_format"] == "mc" and task in (None, key(r)):
                r["options"][r["answer"]] += " " + word
    return out


def run(recs: dict[str, list[dict]], word: str) -> dict:
    """The bias audit of these records: failures, and whether the word / text tests caught WORD."""
    from qa4d.engine.audit import bias_audit

    params = inspect.signature(bias_audit).parameters
    if "accepts" in params:  # (family, task) groups and shortcuts accepted by design
        from qa4d.engine.audit import family_accepts

        fams = sorted({r["family"] for rs in recs.values() for r in rs})
        rep = bias_audit(recs["train"], recs["bench"], None, accepts=family_accepts(fams))
    else:  # the audit before (family, task) groups: tasks by name
        rep = bias_audit(recs["train"], recs["bench"], sorted({r["task"] for rs in recs.values() for r in rs}))
    failed = [t for t in rep["tests"] if t["failed"]]
    text = [t for t in rep["tests"] if t["baseline"] == "text" and t["format"] == "mc"]
    best = min(text, key=lambda t: t["p_value"]) if text else None
    return {"failures": len(rep["failures"]), "m": sum(t["testable"] for t in rep["tests"]), "named": any(f"'{word}'" in f for f in rep["failures"]),
            "word": any(t["baseline"] == "word" and t.get("word") == word for t in failed),
            "text": any(t["baseline"] == "text" for t in failed), "best_text": best}


def _best(t: dict | None) -> str:
    if t is None:
        return "no text test"
    where = t.get("name") or ("all tasks pooled" if t["task"] == "*" else t["task"])
    return f"best text test {where} {t['hits']}/{t['n']} p={t['p_value']:.2g} holm={t['holm_p']:.2g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--word", default="clearly")
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src",
                    help="import qa4d from this folder (default: this tree's src)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.src.resolve()))
    from machine import machine_line

    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {machine_line()}; qa4d from {args.src}")
    clean_fail = plants = 0
    every = {"named": 0, "word": 0, "text": 0}
    one = {"named": 0, "word": 0, "text": 0}
    sizes: dict[bool, list[int]] = {True: [], False: []}
    cpu0 = time.process_time()
    for ds in args.datasets:
        recs = load(ds)
        clean = run(recs, args.word)
        clean_fail += clean["failures"] > 0
        mc_tasks = sorted({key(r) for rs in recs.values() for r in rs if r["answer_format"] == "mc"})
        line = []
        for t in mc_tasks:
            n_items = sum(key(r) == t and r["answer_format"] == "mc" for rs in recs.values() for r in rs)
            res = run(planted(recs, args.word, t), args.word)
            plants += 1
            for k in one:
                one[k] += res[k]
            sizes[res["named"]].append(n_items)
            line.append(f"{'/'.join(x for x in t if x)} {n_items}:{'caught' if res['named'] else 'missed'}"
                        f"{'+text' if res['text'] else ''}")
        res = run(planted(recs, args.word, None), args.word)
        for k in every:
            every[k] += res[k]
        print(f"{ds}: clean {'FAILED' if clean['failures'] else 'passed'} (Holm family m = {clean['m']}); every task "
              f"{'caught' if res['named'] else 'missed'} (word test {'yes' if res['word'] else 'no'}, text baseline "
              f"{'yes' if res['text'] else 'no'}; {_best(res['best_text'])}); " + ", ".join(line))
    n = len(args.datasets)
    print(f"clean datasets failed: {clean_fail}/{n}")
    print(f"word on every mc task: caught {every['named']}/{n}; by the word test {every['word']}/{n}, "
          f"by the text baseline {every['text']}/{n}")
    print(f"word on one mc task: caught {one['named']}/{plants}; by the word test {one['word']}/{plants}, "
          f"by the text baseline {one['text']}/{plants}")
    for named in (True, False):
        v = sorted(sizes[named])
        if v:
            print(f"  {'caught' if named else 'missed'}: mc items of the task (train + bench) min {v[0]}, median {v[len(v) // 2]}, max {v[-1]}")
    print(f"CPU time (user+sys of this process): {time.process_time() - cpu0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
