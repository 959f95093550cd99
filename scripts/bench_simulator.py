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

Floors (`floors`, a third pass per scene, not part of the pipeline's time): the CPU time of the
work no implementation of the same scene, physics and file format can skip, each measured alone
on the same scene: PyBullet's own calls while the world is built (connect, loadURDF, shapes,
poses) and while it is stepped (`stepSimulation`, and posing the scripted objects at every
sub-step), the depth-buffer conversion (three float32
operations a pixel), and zlib on what the scene stores (the arrays as stored, depth in byte
planes and the mask as uint8, and each frame's PNG rows, all at level 1, and the CRC-32 zip and
PNG need).
Their sum is how low "on top" could go with every line of Python and every copy gone.

    .venv/bin/python scripts/bench_simulator.py [--scenes 4] [--frames 32] [--sizes 224 448]
        [--seed 0] [--tmp /dev/shm] [--kinds mixed ...] [--profile] [--no-floors]
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
FLOORS = ("pybullet_build", "physics_steps", "depth_conversion", "deflate_arrays", "deflate_png", "crc")
FLOOR_TEXT = {
    "pybullet_build": "PyBullet's calls while building the world (connect, loadURDF, shapes, poses)",
    "physics_steps": "PyBullet's calls while stepping (`stepSimulation`, posing scripted objects)",
    "depth_conversion": "depth buffer to metres (NumPy, alone)",
    "deflate_arrays": "zlib level 1 on the arrays as stored (depth planes, uint8 mask, the rest)",
    "deflate_png": "zlib level 1 on the PNG rows",
    "crc": "CRC-32 of every stored byte (zip members, PNG chunks)",
}
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


def floors(spec, scene_dir: Path) -> dict[str, float]:
    """CPU seconds of the unavoidable parts of one scene, each alone (module docstring)."""
    import zlib

    from PIL import Image

    import qa4d.sources.sim.physics as physics
    from qa4d.scene.format import load_scene
    from qa4d.sources.sim.render import RenderSettings, depth_buffer_to_z

    spent = {"build": 0.0, "step": 0.0}
    phase = ["build"]

    class TimedClient(physics.BulletClient):
        """Adds the CPU time of every PyBullet call (connect included) to spent[phase]."""

        def __init__(self, *a, **k):
            t0 = time.process_time()
            super().__init__(*a, **k)
            spent[phase[0]] += time.process_time() - t0

        def __getattr__(self, name):
            f = super().__getattr__(name)
            if not callable(f):
                return f

            def timed(*a, **k):
                t0 = time.process_time()
                try:
                    return f(*a, **k)
                finally:
                    spent[phase[0]] += time.process_time() - t0
            return timed

    saved = physics.Client  # World's client class (a BulletClient keeping its bound functions)
    physics.Client = TimedClient
    try:
        world = physics.World(spec)
        phase[0] = "step"
        for t in range(spec.num_frames):
            world.advance_to(t)
        world.close()
    finally:
        physics.Client = saved
    out = {"pybullet_build": spent["build"], "physics_steps": spent["step"]}

    s = RenderSettings(width=spec.width, height=spec.height)
    scene = load_scene(scene_dir)
    depth = np.asarray(scene.depth)
    # the depth buffer these depths came from (nothing-hit pixels at the clear value 1)
    buf = np.where(depth > 0, (s.far - s.far * s.near / np.where(depth > 0, depth, 1)) / (s.far - s.near), 1).astype(np.float32)
    z = np.empty(depth.shape[1:], dtype=np.float32)
    t0 = time.process_time()
    for b in buf:
        depth_buffer_to_z(b, s.near, s.far, out=z)
    out["depth_conversion"] = time.process_time() - t0

    stored = {}
    with np.load(scene_dir / "arrays.npz") as npz:
        for name in npz.files:
            stored[name] = npz[name]
    rows = []
    for t in range(scene.num_frames):
        with Image.open(scene.frame_path(t)) as im:
            rgb = np.asarray(im.convert("RGB"))
        rows.append(np.concatenate([np.zeros((rgb.shape[0], 1), np.uint8), rgb.reshape(rgb.shape[0], -1)], axis=1))
    t0 = time.process_time()
    for name, arr in stored.items():
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        c.compress(arr)
        c.flush()
    out["deflate_arrays"] = time.process_time() - t0
    t0 = time.process_time()
    for r in rows:
        zlib.compress(r, 1)
    out["deflate_png"] = time.process_time() - t0
    t0 = time.process_time()
    for a in [*stored.values(), *rows]:
        zlib.crc32(a)
    out["crc"] = time.process_time() - t0
    scene.close()
    return out


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
            scene_dir = out / scene_name(args.seed, i)
            cams = np.asarray(load_scene(scene_dir).cam_to_world)
            alone = render_alone(spec, cams, args.shadows)
            floor = floors(spec, scene_dir) if args.floors else {}
            size_mb = sum(f.stat().st_size for f in scene_dir.rglob("*") if f.is_file()) / 1e6
            npz_mb = (scene_dir / "arrays.npz").stat().st_size / 1e6
            rows.append({"scene": scene_name(args.seed, i), "kind": spec.kind, "frames": timing.frames,
                         "whole": whole, "render_in_run": timing.render, "render_alone": alone,
                         "mb": size_mb, "npz_mb": npz_mb, **floor,
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
    print(f"| scene on disk, MB per scene (arrays.npz alone) | {sum(r['mb'] for r in rows) / len(rows):.2f} "
          f"({sum(r['npz_mb'] for r in rows) / len(rows):.2f}) |")
    print()
    if all(f in rows[0] for f in FLOORS):
        print("| floor: each alone, same scenes (CPU) | ms / frame | % of the renderer alone |")
        print("|---|---:|---:|")
        total = 0.0
        for f in FLOORS:
            part = sum(r[f] for r in rows)
            total += part
            print(f"| {FLOOR_TEXT[f]} | {1e3 * part / frames:.2f} | {100 * part / alone:.1f}% |")
        print(f"| **sum of the floors: the lowest 'on top' without any Python or copies** | **{1e3 * total / frames:.2f}** | "
              f"**{100 * total / alone:.1f}%** |")
        print(f"| the rest: the pipeline's own glue (whole - renderer - floors) | {1e3 * (whole - alone - total) / frames:.2f} | "
              f"{100 * (whole - alone - total) / alone:.1f}% |")
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
    ap.add_argument("--no-floors", dest="floors", action="store_false",
                    help="skip the floors pass (each unavoidable part timed alone; module docstring)")
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
