#!/usr/bin/env python
"""Whole-process throughput of `qa4d score` on VLM4D-style responses (a measurement, not a test;
figures go to docs/benchmarks.md).

Builds, reproducibly from --seed, an annotation directory of N VLM4D questions (`real_mc.json` and
`synthetic_mc.json` in the published proportions, records cycled from the published files, or from
the test fixture when ../shared is absent, renumbered `validation_1..`) and a PRED.jsonl with one
response per question, half direct output and half chain of thought in the styles models write
(a letter, "B: right", "(C)", the option text, reasoning ending in "Therefore, the final answer
is: X", two final statements, a walk through the options, answers in words, refusals; about 60%
right). Then runs `python -m qa4d.cli score` on them R times as a child process and reports the
child's CPU time (user + system, from getrusage) and wall time: items / s / core = N / CPU time.

It also runs a minimal scorer (read both files, one regex for the letter, count matches, write one
number) on the same files, the yardstick of issue 12, and prints the sha256 of metrics.json and
scored.jsonl so two code versions can be compared on identical input (--pythonpath OTHER/src).

    .venv/bin/python scripts/bench_score.py [--items 100000] [--repeat 3] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from machine import machine_line  # scripts/machine.py
from qa4d._io import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "data" / "vlm4d"
FILES = ("real_mc", "synthetic_mc")


def source_dir() -> Path:
    for parent in ROOT.parents:
        cand = parent / "shared" / "data" / "vlm4d"
        if all((cand / f"{f}.json").is_file() for f in FILES):
            return cand
    return FIXTURE


def _reasoning(rng: np.random.Generator, question: str, options: dict[str, str]) -> str:
    subject = question.rstrip("?").split(" the ", 1)[-1] if " the " in question else "the object"
    parts = [
        f"Let me look at the frames one by one to see what happens to the {subject}.",
        "In the first frames it is near the centre of the image; later it has shifted.",
        "The camera itself seems mostly steady, so the apparent motion comes from the object.",
        "Comparing the first and the last frame makes the direction clearer.",
        "There is some motion blur, but the overall trend is consistent across the clip.",
    ]
    k = int(rng.integers(2, len(parts) + 1))
    return " ".join(parts[:k])


def _walk(options: dict[str, str]) -> str:
    verdicts = ["this does not match what is shown", "unlikely given the frames", "possible but not supported",
                "this fits the motion best"]
    return "\n".join(f"- Option {k} ({v}): {verdicts[i % 4]}." for i, (k, v) in enumerate(options.items()))


def response_for(rng: np.random.Generator, rec: dict, correct: bool) -> str:
    options = {k: str(v) for k, v in rec["choices"].items()}
    answer = str(rec["answer"])
    right = next(k for k, v in options.items() if v == answer)
    wrong = [k for k, v in options.items() if v != answer]
    letter = right if correct else wrong[int(rng.integers(len(wrong)))]
    text = options[letter]
    other = wrong[0] if letter != wrong[0] else right
    why = _reasoning(rng, rec["question"], options)
    style = int(rng.integers(16))
    return [
        # direct output
        lambda: letter,
        lambda: f"{letter}.",
        lambda: f"{letter}: {text}",
        lambda: f"({letter}) {text}",
        lambda: f"The answer is {letter}.",
        lambda: text,
        lambda: f"**{letter}**",
        lambda: f"Answer: {letter}",
        # chain of thought
        lambda: f"{why} Therefore, the final answer is: {letter}",
        lambda: f"{why}\n\nTherefore, the final answer is: {letter}: {text}.",
        lambda: f"{why} At first I thought the final answer is: {other}. Looking again, the motion is "
                f"clearer.\nTherefore, the final answer is: **{letter}**",
        lambda: f"{why}\n{_walk(options)}\nTherefore, the final answer is: {letter}",
        lambda: f"{why} The {rec['question'].split(' ')[-1].rstrip('?')} is {text}.\nTherefore, the final answer "
                f"is: {text}",
        lambda: f"{why}\nTherefore, the final answer is: $\\boxed{{{letter}}}$",
        lambda: f"{why} The frames do not show enough. Therefore, the final answer is: cannot be determined.",
        lambda: f"<think>{why}</think>\n<answer>{letter}</answer>",
    ][style]()


def build(out: Path, n: int, seed: int) -> None:
    src = source_dir()
    recs = {f: json.loads((src / f"{f}.json").read_text(encoding="utf-8")) for f in FILES}
    n_real = round(n * len(recs["real_mc"]) / (len(recs["real_mc"]) + len(recs["synthetic_mc"])))
    counts = {"real_mc": n_real, "synthetic_mc": n - n_real}
    rng = np.random.default_rng(seed)
    ann = out / "annotations"
    ann.mkdir(parents=True, exist_ok=True)
    lines = []
    for f in FILES:
        base = recs[f]
        made = []
        for i in range(counts[f]):
            rec = dict(base[i % len(base)], id=f"validation_{i + 1}")
            made.append(rec)
            lines.append(json.dumps({"id": f"{f}/{rec['id']}", "response": response_for(rng, rec, rng.random() < 0.6)}))
        write_text_atomic(ann / f"{f}.json", json.dumps(made, indent=1))
    write_text_atomic(out / "pred.jsonl", "\n".join(lines) + "\n")


MINIMAL = r"""
import json, re, sys
ann, pred = sys.argv[1], sys.argv[2]
truth = {}
for f in ("real_mc", "synthetic_mc"):
    for r in json.load(open(f"{ann}/{f}.json")):
        truth[f"{f}/{r['id']}"] = next(k for k, v in r["choices"].items() if str(v) == str(r["answer"]))
pat = re.compile(r"\b([ABCD])\b")
hit = n = 0
for line in open(pred):
    rec = json.loads(line)
    m = pat.findall(rec["response"])
    hit += bool(m) and m[-1] == truth[rec["id"]]
    n += 1
print(hit / n)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000, help="questions and responses (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command; the median is reported")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pythonpath", type=Path, default=ROOT / "src", help="the qa4d source tree to time")
    ap.add_argument("--keep", type=Path, default=None, help="build the files here and keep them")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_score."))
    if not (work / "pred.jsonl").exists():
        build(work, args.items, args.seed)
    env = dict(os.environ, PYTHONPATH=str(args.pythonpath))
    score = [sys.executable, "-m", "qa4d.cli", "score", "--benchmark", "vlm4d", "--annotations",
             str(work / "annotations"), "--predictions", str(work / "pred.jsonl"), "--out", str(work / "out")]
    minimal = [sys.executable, "-c", MINIMAL, str(work / "annotations"), str(work / "pred.jsonl")]
    timed(score, env)  # warm the page cache
    runs = {"qa4d score": [timed(score, env) for _ in range(args.repeat)],
            "minimal scorer": [timed(minimal, env) for _ in range(args.repeat)]}
    metrics = json.loads((work / "out" / "metrics.json").read_text())

    print(f"date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    print(f"items: {args.items} (source {source_dir()}, seed {args.seed}); code: {args.pythonpath}")
    print("| command | CPU s (median) | wall s (median) | items / s / core |")
    print("|---|---:|---:|---:|")
    for name, rs in runs.items():
        cpu = statistics.median(r[0] for r in rs)
        wall = statistics.median(r[1] for r in rs)
        print(f"| {name} | {cpu:.2f} | {wall:.2f} | {args.items / cpu:,.0f} |")
    o = metrics["overall"]
    print(f"accuracy {o['accuracy']:.6f}, unparsed {o['unparsed']}, rules {metrics['extraction_rules']}")
    print(f"sha256 metrics.json {sha(work / 'out' / 'metrics.json')}, scored.jsonl {sha(work / 'out' / 'scored.jsonl')}")
    if args.keep is None:
        import shutil

        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
