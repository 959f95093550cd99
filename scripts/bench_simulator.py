#!/usr/bin/env python
"""Benchmark of the built-in simulator: the CPU cost of the whole `qa4d simulate` pipeline per
frame next to the CPU cost of PyBullet's rendering alone, at one or more image sizes.

For each size, scenes are simulated one after another in this single process and written to a
temporary directory (`simulate.simulate_scene`: drawing the scene, building the PyBullet world,
physics, rendering, masks, depth conversion, tracks, visibility, PNG and npz encoding, writing).
Then, as the reference, the renderer alone: the same scene's world is rebuilt and, frame by frame,
posed by the same physics (not timed) and rendered with `getCameraImage` for the same cameras
and settings; only the getCameraImage calls are timed. Every figure is CPU time of this process
(`time.process_time`, user + sys), so it stays meaningful on a shared machine; the load average is
printed. Warm-up scenes of other indices (not counted) load imports and the meshes of the shared
assets, as in a long run (a random toy variant is usually new to its process, as in a long run).

    .venv/bin/python scripts/bench_simulator.py [--scenes 4] [--frames 32] [--sizes 224 448]
        [--seed 0] [--tmp /dev/shm] [--kinds mixed ...] [--profile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import machine_line  # scripts/machine.py

PARTS = ("spec", "build", "loop", "tracks", "meta", "write")
PART_TEXT = {
    "spec": "drawing the scene (scenario)",
    "build": "building the PyBullet world (assets, meshes, settling)",
    "loop": "per-frame physics, poses, depth conversion, masks",
    "tracks": "tracks, visibility, object counts",
    "meta": "scene.json summary",
    "write": "encoding (PNG, deflated npz) and writing",
}


def render_alone(spec, cam_to_world: np.ndarray, shadows: bool) -> float:
    """CPU seconds inside getCameraImage for the scene's cameras, the world posed frame by frame
    by the same physics (untimed), with the arguments `render.Renderer.render` uses."""
    from qa4d.geometry.camera import intrinsics_from_fov
    from qa4d.sources.sim.physics import World
    from qa4d.sources.sim.render import (
        TINY_RENDERER_PRINCIPAL_SHIFT,
        RenderSettings,
        gl_projection_matrix,
        gl_view_matrix,
    )

    world = World(spec)
    try:
        c = world.client
        s = RenderSettings(width=spec.width, height=spec.height, light_direction=spec.light_direction, shadow=shadows)
        k = intrinsics_from_fov(spec.width, spec.height, spec.camera.fov_y_deg)
        k[0, 2] += TINY_RENDERER_PRINCIPAL_SHIFT[0]
        k[1, 2] += TINY_RENDERER_PRINCIPAL_SHIFT[1]
        proj = gl_projection_matrix(k, s.width, s.height, s.near, s.far)
        cpu = 0.0
        for t in range(spec.num_frames):
            world.advance_to(t)
            view = gl_view_matrix(cam_to_world[t])
            t0 = time.process_time()
            c.getCameraImage(s.width, s.height, viewMatrix=view, projectionMatrix=proj, renderer=c.ER_TINY_RENDERER,
                             shadow=int(s.shadow), lightDirection=list(s.light_direction),
                             lightAmbientCoeff=s.ambient, lightDiffuseCoeff=s.diffuse,
                             lightSpecularCoeff=s.specular)
            cpu += time.process_time() - t0
        return cpu
    finally:
        world.close()


def bench_size(size: int, args) -> dict:
    from qa4d.scene.format import load_scene
    from qa4d.sources.sim.deal import KIND_DECK, scene_name
    from qa4d.sources.sim.simulate import SimOptions, make_spec, simulate_scene

    kinds = tuple(args.kinds or KIND_DECK)
    opts = SimOptions(num_frames=args.frames, size=size, shadows=args.shadows, kinds=kinds)
    out = Path(tempfile.mkdtemp(prefix="qa4d-bench-sim-", dir=args.tmp))
    rows = []
    try:
        for i in range(args.warmup):  # other scenes: imports, shared assets' meshes (as in a long run)
            simulate_scene(out, args.seed, 10_000 + i, SimOptions(num_frames=4, size=64, kinds=kinds))
        for i in range(args.start, args.start + args.scenes):
            t0 = time.process_time()
            timing = simulate_scene(out, args.seed, i, opts)
            whole = time.process_time() - t0
            spec = make_spec(args.seed, i, opts)
            cams = np.asarray(load_scene(out / scene_name(args.seed, i)).cam_to_world)
            alone = render_alone(spec, cams, args.shadows)
            rows.append({"scene": scene_name(args.seed, i), "kind": spec.kind, "frames": timing.frames,
                         "whole": whole, "render_in_run": timing.render, "render_alone": alone,
                         **{p: timing.parts.get(p, timing.build if p == "build" else 0.0) for p in PARTS}})
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"size": size, "rows": rows}


def report(res: dict) -> None:
    rows, size = res["rows"], res["size"]
    frames = sum(r["frames"] for r in rows)
    whole = sum(r["whole"] for r in rows)
    alone = sum(r["render_alone"] for r in rows)
    in_run = sum(r["render_in_run"] for r in rows)
    print(f"## {size} x {size}")
    print()
    print("| scene | kind | frames | whole ms/frame | render alone ms/frame | render in run ms/frame | on top |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        n = r["frames"]
        print(f"| {r['scene']} | {r['kind']} | {n} | {1e3 * r['whole'] / n:.1f} | {1e3 * r['render_alone'] / n:.1f} | "
              f"{1e3 * r['render_in_run'] / n:.1f} | {100 * (r['whole'] - r['render_alone']) / r['render_alone']:.0f}% |")
    print()
    print("| figure (CPU, all scenes) | value |")
    print("|---|---:|")
    print(f"| whole pipeline, ms / frame | {1e3 * whole / frames:.2f} |")
    print(f"| renderer alone (getCameraImage, same cameras and scene), ms / frame | {1e3 * alone / frames:.2f} |")
    print(f"| getCameraImage inside the pipeline, ms / frame | {1e3 * in_run / frames:.2f} |")
    for p in PARTS:
        part = sum(r[p] for r in rows)
        print(f"| {PART_TEXT[p]}, ms / frame ({100 * part / alone:.1f}% of the renderer) | {1e3 * part / frames:.2f} |")
    print(f"| **whole pipeline on top of the renderer alone (aim: at most 20%)** | **{100 * (whole - alone) / alone:.1f}%** |")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--start", type=int, default=0, help="first scene index")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=4, help="scenes simulated first, not counted (other indices)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kinds", nargs="+", default=None, help="deck of scene kinds (default: simulate's)")
    ap.add_argument("--shadows", action="store_true")
    ap.add_argument("--tmp", default=None, help="where scenes are written (default: the system temp dir; "
                    "/dev/shm separates encoding cost from disk speed)")
    ap.add_argument("--profile", action="store_true", help="also print a CPU profile of the pipeline runs")
    args = ap.parse_args()

    import qa4d.sources.sim.physics  # noqa: F401  (imports PyBullet quietly; not part of any scene)

    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile(time.process_time)
        prof.enable()
    results = [bench_size(s, args) for s in args.sizes]
    if prof is not None:
        prof.disable()
    print(f"# qa4d simulator benchmark, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {machine_line()}; TinyRenderer, single process, shadows {'on' if args.shadows else 'off'}")
    print(f"# {args.scenes} scenes from index {args.start} x {args.frames} frames, seed {args.seed}, "
          f"written under {args.tmp or tempfile.gettempdir()}; CPU time (user + sys) of this process")
    print()
    for res in results:
        report(res)
    if prof is not None:
        import pstats

        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
