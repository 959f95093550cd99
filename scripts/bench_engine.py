#!/usr/bin/env python
"""Throughput of the QA engine: QA pairs per second per core.

Runs `qa4d generate` in one process (one core) on a scene directory (or on scenes it simulates
first) and times its parts:
  - check:      validating every scene (the checks of `qa4d validate`, frames decoded in full),
                the first thing phase 1 does for a scene;
  - candidates: phase 1 (sampling, geometry, labels, references), all tasks;
  - wording:    phase 2 rendering of questions/answers (text only);
  - media:      writing the JPEG images: frames shared per scene, and per-sample frames with
                visual prompts drawn on them.
Reports QA pairs per CPU-second for text-only samples (no image of their own) and for samples
that write images, next to the cost of only decoding the source frames and encoding them as JPEG
for the same images, measured in the same run.

    .venv/bin/python scripts/bench_engine.py [--scenes DIR] [--sim-scenes 12 --frames 32 --size 128]

Whole-process figures (`qa4d generate` / `qa4d score` run as child processes; CPU time is the
child's user+sys and memory its peak RSS, both from os.wait4, so they hold on a shared machine):

    --process --scenes DIR [--compare OLD_SRC] [--repeat 3]
        QA pairs per CPU-second of `qa4d generate --workers 1` (start-up, scene check, both phases
        and writing included). With --compare, OLD_SRC is another version's src/ tree (e.g.
        `git archive REV src | tar -x -C OLD`): runs alternate between the two and the datasets
        must have the same bytes (sha256 of every file but the .work/ directory).
    --workers-compare --scenes DIR [--compare OLD_SRC] [--repeat 5] [--pycache DIR]
        wall and CPU of `qa4d generate --workers 1` and `--workers 2` (runs alternate), the wall
        speed-up of the medians, and whether all datasets have the same bytes. Wall time is only
        meaningful on an otherwise idle machine (the load average is printed).
    --memory --scenes DIR [--times 10] [--compare OLD_SRC] [--memory-workers 1] [--score-items 20000]
        peak memory of `qa4d generate` on DIR and on DIR cloned --times times (hard links, new
        scene ids), and of `qa4d score` on synthetic VLM4D-style responses, 20,000 items (the
        count scripts/bench_eval.py scores) and --times as many (--score-items 0: no score).
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path
from machine import machine_line  # scripts/machine.py


def cpu() -> float:
    return time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", help="scene directory (default: simulate into a temporary directory)")
    ap.add_argument("--sim-scenes", type=int, default=12)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--process", action="store_true", help="whole-process CPU time of qa4d generate")
    ap.add_argument("--compare", help="with --process: src/ tree of another version to compare against")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--memory", action="store_true", help="peak memory of generate and score at 1x and --times x")
    ap.add_argument("--workers-compare", action="store_true", help="wall and CPU of generate --workers 1 vs 2")
    ap.add_argument("--times", type=int, default=10)
    ap.add_argument("--memory-workers", type=int, default=1, help="with --memory: generate's --workers")
    ap.add_argument("--score-items", type=int, default=20000)
    ap.add_argument("--pycache", metavar="DIR",
                    help="whole-process runs keep compiled bytecode in DIR (PYTHONPYCACHEPREFIX), as an installed "
                         "package does, even when PYTHONDONTWRITEBYTECODE is set")
    args = ap.parse_args()
    if args.process or args.memory or args.workers_compare:
        from bench_process import process_main  # scripts/bench_process.py

        process_main(args)
        return

    from qa4d.engine import candidates, wording
    from qa4d.engine import generate as gen
    from qa4d.engine import writer
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.draw import encode_jpeg
    from qa4d.scene.format import iter_scene_dirs, load_scene

    tmp = Path(tempfile.mkdtemp(prefix="qa4d_bench_"))
    scenes = Path(args.scenes) if args.scenes else tmp / "scenes"
    if not args.scenes:
        from qa4d.cli import main as qa4d_main

        qa4d_main(["simulate", "--out", str(scenes), "--scenes", str(args.sim_scenes), "--frames", str(args.frames),
                   "--size", str(args.size), "--seed", str(args.seed)])

    timing = {"check": 0.0, "phase1": 0.0, "render": 0.0, "shared": 0.0, "prompt": 0.0}
    counts = {"shared": 0, "prompt": 0}
    real_phase1, real_render = gen._phase1, wording._render
    real_shared, real_prompt = writer.MediaWriter.shared_frame, writer.MediaWriter.prompted_frame

    def timed(key, fn):
        def wrapper(*a, **k):
            t = cpu()
            try:
                return fn(*a, **k)
            finally:
                timing[key] += cpu() - t
                if key in counts:
                    counts[key] += 1
        return wrapper

    candidates.check_scene_arrays = timed("check", candidates.check_scene_arrays)
    gen._phase1 = timed("phase1", real_phase1)
    wording._render = timed("render", real_render)
    writer.MediaWriter.shared_frame = timed("shared", real_shared)
    writer.MediaWriter.prompted_frame = timed("prompt", real_prompt)

    out = tmp / "dataset"
    wall = time.time()
    total_cpu = cpu()
    gen.generate(GenerateConfig(scenes=str(scenes), out=str(out), seed=args.seed, workers=1), log=lambda m: None)
    total_cpu = cpu() - total_cpu
    wall = time.time() - wall

    import json

    recs = [json.loads(line) for s in ("train", "bench") for line in (out / s / "samples.jsonl").read_text().splitlines()]
    with_images = [r for r in recs if any("/p/" in m for m in r["media"])]
    n, n_img = len(recs), len(with_images)
    n_prompt_files = len(list(out.glob("media/*/p/*.jpg")))
    n_shared_files = len([p for p in out.glob("media/*/*.jpg")])

    # the same images, only decoded from the scene and encoded as JPEG (no drawing, no writing)
    dirs = {d.name: d for d in iter_scene_dirs(scenes)}
    jobs = []
    for p in sorted(out.glob("media/*/*.jpg")):
        jobs.append((p.parent.name, int(p.stem)))
    for p in sorted(out.glob("media/*/p/*.jpg")):
        r = next(r for r in with_images if writer.safe_name(r["id"]) == p.stem.rsplit("_", 1)[0])
        jobs.append((p.parent.parent.name, r["frame_indices"][int(p.stem.rsplit("_", 1)[1])]))
    t = cpu()
    loaded = {}
    for sid, frame in jobs:
        if sid not in loaded:
            loaded[sid] = load_scene(dirs[sid])
        encode_jpeg(loaded[sid].frame(frame), 90)
    codec = cpu() - t

    timing["phase1"] -= timing["check"]  # phase 1's worker function checks the scene first
    base = timing["phase1"] + timing["render"]
    text_rate = n / base
    per_sample_base = base / n
    img_time_per = (timing["prompt"] / n_img) if n_img else float("nan")
    img_rate = 1.0 / (per_sample_base + img_time_per) if n_img else float("nan")
    print(f"qa4d engine benchmark  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine_line()}")
    print(f"scenes: {len(dirs)} ({scenes}), samples: {n} ({n_img} with their own prompt images), "
          f"images: {n_shared_files} shared frames + {n_prompt_files} prompt images")
    print(f"wall {wall:.2f} s, cpu {total_cpu:.2f} s in one process")
    print(f"  scene check {timing['check']:.2f} s cpu ({timing['check'] / total_cpu:.0%} of the run), "
          f"candidates (phase 1) {timing['phase1']:.2f} s cpu, wording {timing['render']:.2f} s, "
          f"shared frames {timing['shared']:.2f} s, prompt images {timing['prompt']:.2f} s")
    print(f"text-only samples:         {text_rate:8.1f} QA pairs / s / core")
    print(f"samples writing images:    {img_rate:8.1f} QA pairs / s / core  "
          f"({img_time_per * 1e3:.1f} ms of images each)")
    print(f"shared frames, per sample: {timing['shared'] / n * 1e3:8.2f} ms (written once per scene and frame)")
    print(f"decode+encode only, same {len(jobs)} images: {codec:.2f} s = {len(jobs) / codec:.0f} images / s "
          f"(engine media writing: {(timing['shared'] + timing['prompt']):.2f} s)")


if __name__ == "__main__":
    main()
