"""Does the audit's bias check pass clean datasets and catch a planted word? Measured on datasets
you give it (e.g. `qa4d simulate --scenes 8 --frames 16 --size 96 --seed K` + `qa4d generate`).

Per dataset: the bias tests of the dataset as it is (clean), then once per mc task with WORD
appended to the correct option of every mc record of that task, then with it on every task. A plant
counts as caught when a bias failure names the word (or, for the text baseline, lists it first).
Only the bias tests run (the records are not recomputed against their scenes). Reads the datasets,
writes nothing.

    python scripts/audit_planted.py DATASET... [--word clearly]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import machine_line  # noqa: E402

from qa4d._io import iter_jsonl  # noqa: E402
from qa4d.engine.audit import bias_audit  # noqa: E402


def load(ds: Path) -> dict[str, list[dict]]:
    return {s: [r for _, r in iter_jsonl(ds / s / "samples.jsonl")] for s in ("train", "bench")}


def planted(recs: dict[str, list[dict]], word: str, task: str | None) -> dict[str, list[dict]]:
    out = copy.deepcopy(recs)
    for rs in out.values():
        for r in rs:
            if r["answer_format"] == "mc" and task in (None, r["task"]):
                r["options"][r["answer"]] += " " + word
    return out


def run(recs: dict[str, list[dict]], word: str) -> tuple[int, bool]:
    tasks = sorted({r["task"] for rs in recs.values() for r in rs})
    failures = bias_audit(recs["train"], recs["bench"], tasks)["failures"]
    return len(failures), any(f"'{word}'" in f for f in failures)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", nargs="+", type=Path)
    ap.add_argument("--word", default="clearly")
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {machine_line()}")
    clean_fail = caught = plants = all_caught = 0
    sizes: dict[bool, list[int]] = {True: [], False: []}
    for ds in args.datasets:
        recs = load(ds)
        n_fail, _ = run(recs, args.word)
        clean_fail += n_fail > 0
        mc_tasks = sorted({r["task"] for rs in recs.values() for r in rs if r["answer_format"] == "mc"})
        line = []
        for t in mc_tasks:
            n_items = sum(r["task"] == t and r["answer_format"] == "mc" for rs in recs.values() for r in rs)
            _, named = run(planted(recs, args.word, t), args.word)
            plants += 1
            caught += named
            sizes[named].append(n_items)
            line.append(f"{t} {n_items}:{'caught' if named else 'missed'}")
        _, named_all = run(planted(recs, args.word, None), args.word)
        all_caught += named_all
        print(f"{ds}: clean {'FAILED' if n_fail else 'passed'}; every task {'caught' if named_all else 'missed'}; " + ", ".join(line))
    n = len(args.datasets)
    print(f"clean datasets failed: {clean_fail}/{n}; word on every task caught: {all_caught}/{n}; "
          f"word on one task caught: {caught}/{plants}")
    for named in (True, False):
        v = sorted(sizes[named])
        if v:
            print(f"  {'caught' if named else 'missed'}: mc items of the task (train + bench) min {v[0]}, median {v[len(v) // 2]}, max {v[-1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
