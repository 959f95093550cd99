#!/usr/bin/env python
"""CPU time per optimiser step and peak memory of every `qa4d train` recipe on the tiny model (a
measurement, not a test; figures go to docs/benchmarks.md and docs/training.md).

Builds a small simulated dataset and the tiny Qwen2.5-VL in a temporary directory, then runs each
recipe for N + 1 optimiser steps in a fresh process. The time per step is the median interval
between the starts of consecutive steps (data loading and encoding, forward, backward, optimiser,
log line; no checkpoint in between), so start-up and other processes' bursts do not count. Peak
memory is the process's maximum resident set size. Batch 1, 8 frames per sample.

    .venv/bin/python scripts/bench_train.py [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import machine_line  # scripts/machine.py

SRC = str(Path(__file__).resolve().parents[1] / "src")
# the child records when each step asks for its micro-batches (qa4d.train.loop.train's micro_batches)
CHILD = """
import resource, statistics, sys, time
import qa4d.train.loop as loop
starts, inner = [], loop.train
def train(cfg, modules, micro_batches, *a, **k):
    def timed(step):
        starts.append(time.perf_counter())
        return micro_batches(step)
    return inner(cfg, modules, timed, *a, **k)
loop.train = train
from qa4d.cli import main
code = main(sys.argv[1:])
gaps = [b - a for a, b in zip(starts, starts[1:])]
print('step_s', statistics.median(gaps) if gaps else float('nan'))
print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def timed(args: list[str]) -> tuple[float, int]:
    """(median seconds per optimiser step, peak RSS in kB) of one `qa4d` command in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{out.stderr[-2000:]}")
    values = dict(line.split()[:2] for line in out.stdout.splitlines() if line.startswith(("step_s", "maxrss_kb")))
    return float(values["step_s"]), int(values["maxrss_kb"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="extra steps of the longer run (default 10)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qa4d-bench-train-"))
    prep = [["simulate", "--out", str(root / "scenes"), "--scenes", "4", "--frames", "16", "--size", "64", "--seed", "0"],
            ["generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--seed", "0"],
            ["train", "tiny-model", "--out", str(root / "tiny")],
            ["train", "teacher", "--scenes", str(root / "scenes"), "--out", str(root / "teacher"), "--max-steps", "5"]]
    for args in prep:
        timed(args)
    vlm = ["--dataset", str(root / "ds"), "--model-path", str(root / "tiny"), "--threads", str(a.threads),
           "--save-every", "1000"]
    recipes = {
        "teacher (64 px, 4-frame clips, batch 2)": ["train", "teacher", "--scenes", str(root / "scenes"),
                                                    "--threads", str(a.threads), "--save-every", "1000"],
        "sft (full, vision frozen)": ["train", "sft", *vlm],
        "sft --preset multispa (LoRA 16)": ["train", "sft", *vlm, "--preset", "multispa"],
        "p4d (alpha 0.5, beta 0.1, decoder 2560)": ["train", "p4d", *vlm, "--teacher", str(root / "teacher")],
        "p4d --tpe": ["train", "p4d", *vlm, "--teacher", str(root / "teacher"), "--tpe"],
        "geo --stage 1": ["train", "geo", "--stage", "1", *vlm, "--teacher", str(root / "teacher")],
        "geo --stage 2": ["train", "geo", "--stage", "2", *vlm[:2], "--model-path", str(root / "run5/final"), *vlm[4:]],
    }
    print(f"# {dt.date.today()}  {machine_line()}  torch threads {a.threads}")
    print("| recipe | s / step | peak RSS (MB) |\n|---|---:|---:|")
    for i, (name, args) in enumerate(recipes.items()):
        step, rss = timed([*args, "--out", str(root / f"run{i}"), "--max-steps", str(a.steps + 1)])
        print(f"| {name} | {step:.3f} | {rss / 1024:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
