#!/usr/bin/env python
"""Throughput of the MultiSPA family: QA pairs per second per core, and where the time goes.

Runs `qa4d generate --families multispa` in one process (one core, CPU time) on a scene directory
(or on scenes it simulates first) and reports, as shares of the run's CPU time:
  - overlap:  the scene's static point cloud and the (T, T) view overlap ([MS] Eqs. 3-4) behind
              every pair task (`_common.overlap_matrix`, cached per scene);
  - coverage: the object point clouds, their visibility and the covering-pair search of the size
              tasks (`size.object_points`, `size.object_visibility`, `covering_pairs`, `set_ok`);
  - rigid:    the rigid-body segmentation of the tracks (object movement);
and QA pairs per CPU-second, overall and per task group.

    .venv/bin/python scripts/bench_multispa.py [--scenes DIR] [--sim-scenes 8 --frames 32 --size 128]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from machine import machine_line  # scripts/machine.py

SPENT: Counter = Counter()
_DEPTH = Counter()


def timed(module, name: str, bucket: str) -> None:
    """Replace module.name by a wrapper adding its CPU time to SPENT[bucket] (outermost call only)."""
    fn = getattr(module, name)

    @functools.wraps(fn)
    def wrapper(*a, **k):
        if _DEPTH[bucket]:
            return fn(*a, **k)
        _DEPTH[bucket] += 1
        t0 = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            SPENT[bucket] += time.process_time() - t0
            _DEPTH[bucket] -= 1

    setattr(module, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", help="scene directory (default: simulate into a temporary directory)")
    ap.add_argument("--sim-scenes", type=int, default=8)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from qa4d.cli import main as qa4d_main
    from qa4d.engine import generate as gen
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.families.multispa import _common, movement, size

    timed(_common, "overlap_matrix", "overlap")     # every caller looks it up in _common
    for name in ("object_points", "object_visibility", "covering_pairs"):
        timed(size, name, "coverage")
    timed(size._Size, "set_ok", "coverage")
    timed(movement, "rigid_groups", "rigid")

    with tempfile.TemporaryDirectory() as tmp:
        scenes = Path(args.scenes) if args.scenes else Path(tmp) / "scenes"
        if not args.scenes:
            qa4d_main(["simulate", "--out", str(scenes), "--scenes", str(args.sim_scenes), "--frames", str(args.frames),
                       "--size", str(args.size), "--seed", str(args.seed)])
        out = Path(tmp) / "ds"
        t0 = time.process_time()
        gen.generate(GenerateConfig(scenes=str(scenes), out=str(out), seed=args.seed, workers=1,
                                    families=["multispa"]), log=lambda m: None)
        total = time.process_time() - t0
        counts: Counter = Counter()
        for s in ("train", "bench"):
            p = out / s / "samples.jsonl"
            for line in p.read_text().splitlines() if p.exists() else []:
                r = json.loads(line)
                counts[r["category"]] += 1
    n = sum(counts.values())
    print(f"{datetime.date.today()}  machine: {machine_line()}")
    print(f"scenes: {args.scenes or f'{args.sim_scenes} simulated, {args.frames} frames, {args.size} px'}")
    print(f"{n} QA pairs in {total:.2f} CPU-s: {n / total:.1f} QA pairs / s / core")
    for bucket in ("overlap", "coverage", "rigid"):
        print(f"  {bucket:<9} {SPENT[bucket]:7.2f} CPU-s  {100 * SPENT[bucket] / total:5.1f}% of the run")
    print("QA pairs per category: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
