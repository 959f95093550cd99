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

Runs use Python's bytecode cache, as an installed qa4d's runs after its first do (the cache goes
to a PYTHONPYCACHEPREFIX under the work directory and is written by a warm-up run, so the source
tree is not written to); --no-bytecode-cache times runs that compile qa4d's sources every time, as
Python does where PYTHONDONTWRITEBYTECODE=1 is set (this sandbox; the figures before 2026-11-29
13:45 UTC were taken that way).

It also runs a minimal scorer (read both files, one regex for the letter, count matches, write one
number) on the same files, the yardstick of issue 12, and prints the sha256 of metrics.json and
scored.jsonl so two code versions can be compared on identical input (--pythonpath OTHER/src).

--phases: where the CPU of one `qa4d score` run goes (a child process running the verb's steps one
after the other, `time.process_time` around each), beside the floor of each step: the same work
done the cheapest way Python allows (orjson parsing alone, extraction alone, writing the lines
alone, the minimal scorer's one regex per response).

--memory 20000,200000: peak RSS (ru_maxrss from os.wait4) of `qa4d score` at each size, beside a
process that only holds the inputs (the parsed annotation files and a dict of the responses): how
much the run adds to its inputs.

    .venv/bin/python scripts/bench_score.py [--items 100000] [--repeat 3] [--seed 0] [--keep DIR] [--no-bytecode-cache]
    .venv/bin/python scripts/bench_score.py --phases [--items 100000] [--keep DIR]
    .venv/bin/python scripts/bench_score.py --memory 20000,200000 [--pythonpath OLD/src]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
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


def child(cmd: list[str], env: dict, stdout=subprocess.DEVNULL) -> tuple[float, float, float, str]:
    """Run `cmd`; (CPU s = user + system, wall s, peak RSS MiB, stdout) of that process alone (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=stdout)
    out = proc.stdout.read().decode() if proc.stdout is not None else ""
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}")
    return ru.ru_utime + ru.ru_stime, wall, ru.ru_maxrss / 1024, out


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    cpu, wall, _, _ = child(cmd, env)
    return cpu, wall


# the inputs alone: both annotation files parsed, every response in a dict by id
INPUTS = r"""
import json, sys
ann, pred = sys.argv[1], sys.argv[2]
questions = [json.load(open(f"{ann}/{f}.json")) for f in ("real_mc", "synthetic_mc")]
responses = {}
for line in open(pred, "rb"):
    rec = json.loads(line)
    responses[rec["id"]] = rec["response"]
print(len(responses))
"""

# one qa4d score run, step by step (the steps of qa4d.bench.score_cli), then the floor of each step
PHASES = r"""
import gc, json, sys, time
gc.disable()  # as qa4d score does
clock = time.process_time
t = {"start-up (interpreter)": clock()}
from pathlib import Path
ann, pred, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
mark = clock()
import numpy
t["import numpy"] = clock() - mark; mark = clock()
from qa4d.bench.registry import get_benchmark
from qa4d.bench.predictions import read_predictions_file
from qa4d.bench.scoring import resolve_prediction_ids
from qa4d.bench import score_stream
bench = get_benchmark("vlm4d")()
t["import qa4d (scoring, extraction, the vlm4d loader)"] = clock() - mark; mark = clock()
items = bench.load(ann)
t["read and check the questions"] = clock() - mark; mark = clock()
preds = read_predictions_file(pred, keep_lines=False)
t["read the responses"] = clock() - mark; mark = clock()
res = resolve_prediction_ids(bench, items, preds.responses, preds.errors)
t["match ids"] = clock() - mark; mark = clock()
summary, marks = score_stream.summary, {}
def timed_summary(*a, **k):
    marks["loop"] = clock()
    r = summary(*a, **k)
    marks["summary"] = clock()
    return r
score_stream.summary = timed_summary
score_stream.score_to_files(bench, items, res, out)
t["score and write scored.jsonl"] = marks["loop"] - mark
t["metrics (groups, bootstrap)"] = marks["summary"] - marks["loop"]
t["write metrics.json"] = clock() - marks["summary"]
t["total"] = clock()
# floors, measured after the run on the same data
import orjson, re
from qa4d.bench.extract import extract
f = {}
mark = clock()
for name in ("real_mc", "synthetic_mc"):
    orjson.loads((ann / f"{name}.json").read_bytes())
f["parse the question files (orjson alone)"] = clock() - mark; mark = clock()
for name in ("real_mc", "synthetic_mc"):
    json.loads((ann / f"{name}.json").read_bytes())
f["parse the question files (json alone)"] = clock() - mark; mark = clock()
with open(pred, "rb") as fh:
    for line in fh:
        orjson.loads(line)
f["parse the response lines (orjson alone)"] = clock() - mark; mark = clock()
pairs = [(preds.responses[it.id], it) for it in items]
mark = clock()
for r, it in pairs:
    extract(r, it)
f["extraction alone (qa4d's rules, every response)"] = clock() - mark; mark = clock()
pat = re.compile(r"\b([ABCD])\b")
for r, it in pairs:
    pat.findall(r)
f["one regex per response (the minimal scorer's reading)"] = clock() - mark
lines = (out / "scored.jsonl").read_bytes().split(b"\n")
mark = clock()
with open("/dev/null", "wb") as fh:
    fh.write("\n".join([l.decode() for l in lines]).encode())
f["decode, join and write the scored.jsonl lines alone"] = clock() - mark
print(json.dumps({"phases": t, "floors": f}))
"""


def phases(work: Path, env: dict) -> None:
    cmd = [sys.executable, "-c", PHASES, str(work / "annotations"), str(work / "pred.jsonl"), str(work / "out_phases")]
    child(cmd, env, stdout=subprocess.PIPE)  # warm-up: page cache, bytecode cache
    cpu, _, _, out = child(cmd, env, stdout=subprocess.PIPE)
    r = json.loads(out)
    print("| step of one qa4d score run | CPU s |")
    print("|---|---:|")
    for k, v in r["phases"].items():
        print(f"| {k} | {v:.3f} |")
    print(f"(the child's own user + system: {cpu:.2f} s, with the floors below)")
    print("| floor: the same work alone | CPU s |")
    print("|---|---:|")
    for k, v in r["floors"].items():
        print(f"| {k} | {v:.3f} |")


# Runs one command and prints its CPU and peak RSS. A child's ru_maxrss counts the peak of the
# process it was started from (Linux carries the parent's high-water mark over the exec of a
# vfork()ed child), so peaks are measured from this small launcher, not from the script that built
# the data: its own few MiB (shown as "floor") are the most a figure can be inflated by.
LAUNCHER = r"""
import json, os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(proc.pid, 0)
print(json.dumps([ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)]))
"""


def peak(cmd: list[str], env: dict) -> tuple[float, float]:
    """(CPU s, peak RSS MiB) of `cmd`, run from the launcher."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *cmd], env=env, check=True, capture_output=True).stdout
    cpu, rss, code = json.loads(out)
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
    return cpu, rss


def memory(sizes: list[int], root: Path, seed: int, env: dict) -> None:
    for n in sizes:  # built in a child, so this script stays small
        work = root / f"mem_{n}"
        if not (work / "pred.jsonl").exists():
            subprocess.run([sys.executable, __file__, "--build-only", "--items", str(n), "--seed", str(seed),
                            "--keep", str(work)], check=True)
    _, floor = peak([sys.executable, "-c", "pass"], env)
    print(f"floor (an empty interpreter, measured the same way): {floor:.0f} MiB")
    first = root / f"mem_{sizes[0]}"  # warm-up: page cache, bytecode cache
    peak([sys.executable, "-m", "qa4d.cli", "score", "--benchmark", "vlm4d", "--annotations", str(first / "annotations"),
          "--predictions", str(first / "pred.jsonl"), "--out", str(first / "out")], env)
    print("| items | inputs alone: peak MiB | qa4d score: peak MiB | score - inputs, MiB | qa4d score CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        work = root / f"mem_{n}"
        _, rss_in = peak([sys.executable, "-c", INPUTS, str(work / "annotations"), str(work / "pred.jsonl")], env)
        cpu, rss = peak([sys.executable, "-m", "qa4d.cli", "score", "--benchmark", "vlm4d", "--annotations",
                         str(work / "annotations"), "--predictions", str(work / "pred.jsonl"),
                         "--out", str(work / "out")], env)
        print(f"| {n:,} | {rss_in:.0f} | {rss:.0f} | {rss - rss_in:+.0f} | {cpu:.2f} |")


def python_env(pythonpath: Path, work: Path, bytecode_cache: bool) -> dict:
    """The environment of the timed children. With `bytecode_cache`, Python's bytecode cache is
    on, kept under WORK/pycache/<the code tree> (the source tree is not written to), so every
    timed run after the warm-up reads compiled modules, as an installed qa4d does from its second
    run on; without it, each run compiles qa4d's sources (PYTHONDONTWRITEBYTECODE=1)."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        tree = hashlib.sha256(str(Path(pythonpath).resolve()).encode()).hexdigest()[:12]
        env["PYTHONPYCACHEPREFIX"] = str(Path(work).resolve() / "pycache" / tree)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=100_000, help="questions and responses (default 100000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command; the median is reported")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pythonpath", type=Path, default=ROOT / "src", help="the qa4d source tree to time")
    ap.add_argument("--keep", type=Path, default=None, help="build the files here and keep them")
    ap.add_argument("--phases", action="store_true", help="CPU per step of one run, and each step's floor")
    ap.add_argument("--memory", default=None, help="peak RSS at these sizes, e.g. 20000,200000")
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="time runs that compile qa4d's sources every time (PYTHONDONTWRITEBYTECODE=1 and no cache, "
                         "as this sandbox runs Python); by default the runs use Python's bytecode cache, as any "
                         "second run of an installed qa4d does")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build_only:
        build(args.keep, args.items, args.seed)
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_score."))
    env = python_env(args.pythonpath, work, not args.no_bytecode_cache)
    print(f"date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    print("bytecode: " + (f"cached (PYTHONPYCACHEPREFIX={env['PYTHONPYCACHEPREFIX']}, written by a warm-up run)"
                          if "PYTHONPYCACHEPREFIX" in env else "compiled in every run (PYTHONDONTWRITEBYTECODE=1)"))
    if args.memory:
        print(f"code: {args.pythonpath}")
        memory([int(x) for x in args.memory.split(",")], work, args.seed, env)
        print(f"machine after: {machine_line()}")
        return 0
    if not (work / "pred.jsonl").exists():
        build(work, args.items, args.seed)
    if args.phases:
        print(f"items: {args.items} (source {source_dir()}, seed {args.seed}); code: {args.pythonpath}")
        phases(work, env)
        print(f"machine after: {machine_line()}")
        return 0
    score = [sys.executable, "-m", "qa4d.cli", "score", "--benchmark", "vlm4d", "--annotations",
             str(work / "annotations"), "--predictions", str(work / "pred.jsonl"), "--out", str(work / "out")]
    minimal = [sys.executable, "-c", MINIMAL, str(work / "annotations"), str(work / "pred.jsonl")]
    timed(score, env)  # warm the page cache (and write the bytecode cache)
    timed(minimal, env)
    runs = {"qa4d score": [timed(score, env) for _ in range(args.repeat)],
            "minimal scorer": [timed(minimal, env) for _ in range(args.repeat)]}
    metrics = json.loads((work / "out" / "metrics.json").read_text())

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
    print(f"machine after: {machine_line()}")
    if args.keep is None:
        import shutil

        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
