#!/usr/bin/env python
"""Benchmark of the built-in simulator: simulated frames per second per core, next to the cost
of PyBullet's rendering alone (time inside getCameraImage) measured in the same run.

Runs scenes one after another in this single process and writes them to a temporary directory,
so the figure includes physics, tracks, visibility, PNG/npz encoding and writing. Prints a
table with the machine and the date; docs/benchmarks.md records the numbers.

    .venv/bin/python scripts/bench_simulator.py [--scenes 4] [--frames 32] [--size 448] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from machine import machine_line  # scripts/machine.py




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shadows", action="store_true")
    ap.add_argument("--tmp", default=None, help="where scenes are written (default: the system temp dir; "
                    "/dev/shm separates encoding cost from disk speed)")
    args = ap.parse_args()

    import qa4d.sources.sim.physics  # noqa: F401  (imports PyBullet quietly; not part of any scene)

    from qa4d.sources.sim.deal import scene_name
    from qa4d.sources.sim.simulate import SimOptions, simulate_scene

    opts = SimOptions(num_frames=args.frames, size=args.size, shadows=args.shadows)
    out = Path(tempfile.mkdtemp(prefix="qa4d-bench-sim-", dir=args.tmp))
    rows = []
    try:
        simulate_scene(out, args.seed, 10_000, SimOptions(num_frames=2, size=64))  # warm caches (meshes, imports)
        for i in range(args.scenes):
            t0 = time.perf_counter()
            timing = simulate_scene(out, args.seed, i, opts)
            wall = time.perf_counter() - t0
            rows.append((scene_name(args.seed, i), timing.frames, wall, timing.render, timing.build,
                         timing.parts.get("tracks", 0.0), timing.parts.get("write", 0.0)))
    finally:
        shutil.rmtree(out, ignore_errors=True)

    frames = sum(r[1] for r in rows)
    wall = sum(r[2] for r in rows)
    render = sum(r[3] for r in rows)
    write = sum(r[6] for r in rows)
    print(f"# qa4d simulator benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {machine_line()}; TinyRenderer, single process, shadows {'on' if args.shadows else 'off'}")
    print(f"# {args.scenes} scenes x {args.frames} frames at {args.size}x{args.size}, seed {args.seed}, "
          f"written under {args.tmp or tempfile.gettempdir()}")
    print()
    print("| scene | frames | wall s | render s | build s | tracks s | write s | on top of render |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, n, w, r, b, tr, wr in rows:
        print(f"| {name} | {n} | {w:.2f} | {r:.2f} | {b:.2f} | {tr:.2f} | {wr:.2f} | {100 * (w - r) / r:.0f}% |")
    print()
    print("| figure | value |")
    print("|---|---:|")
    print(f"| simulated frames / s / core (whole pipeline, written to disk) | {frames / wall:.2f} |")
    print(f"| rendered frames / s / core (inside getCameraImage only) | {frames / render:.2f} |")
    sim_only = wall - write - render
    print(f"| simulation on top of rendering (physics, poses, tracks, visibility) | {100 * sim_only / render:.0f}% |")
    print(f"| writing on top of rendering (PNG + deflated npz, scene.format.write_scene) | {100 * write / render:.0f}% |")
    print(f"| whole pipeline on top of rendering (aim: <= 30%) | {100 * (wall - render) / render:.0f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
