"""Render random 4D scenes with the built-in PyBullet simulator (CPU only, no downloads).

Writes one scene in format v1 per sub-directory of --out, named sim<seed>_<index>
(e.g. OUT/sim0_00000/): frames/*.png, arrays.npz (intrinsics, cam_to_world, depth,
instance_mask, object poses, extents and visibility, 3D point tracks) and scene.json, whose
"extra"/"sim" block records each object's motion kind and the camera trajectory. Reads only
the assets shipped with pybullet_data.

Scene k depends only on (--seed, k): the same seed gives byte-identical files whatever
--workers is. Scenes already complete in --out are skipped, so an interrupted run can be
restarted with the same command. A scene that fails is reported and the run goes on; the
exit code is 1 if any scene failed.

Scene kinds (--kinds, a deck: each block of len(deck) consecutive scenes takes every entry
once): mixed (any motion, a world camera), camera_motion, spinning, repeated, accelerating and
ego (camera on an agent); the default deck is 3 x mixed and one of each other kind. A mixed
scene is the same whatever the deck, so `--kinds mixed` gives the simulator's original scenes.

With --executor ray every scene is a task on a Ray cluster (--ray-address, or a local Ray
started for the run); the workers must see --out at the same path (docs/scale.md). The files,
the resume and the exit code are the same as with the local processes.

Example:
  qa4d simulate --out scenes/ --scenes 100 --frames 32 --size 448 --seed 0 --workers 2
  qa4d simulate --out /shared/scenes --scenes 10000 --executor ray --ray-address head:6379
"""

from __future__ import annotations

import argparse
import sys

from qa4d._exec import ExecutorConfig, ExecutorError, add_executor_arguments, check_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output directory (one sub-directory per scene)")
    parser.add_argument("--scenes", type=int, default=10, help="number of scenes (default 10)")
    parser.add_argument("--frames", type=int, default=32, help="frames per scene (default 32)")
    parser.add_argument("--size", type=int, default=448, help="image width and height in pixels (default 448)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="index of the first scene (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--fps", type=float, default=8.0, help="frames per second of the clips (default 8)")
    parser.add_argument("--shadows", action="store_true", help="render shadows (about 2x slower)")
    parser.add_argument("--tracks-per-object", type=int, default=256, help="3D point tracks per object (default 256)")
    parser.add_argument("--background-tracks", type=int, default=1024, help="static background tracks (default 1024)")
    parser.add_argument("--kinds", nargs="+", default=None, metavar="KIND",
                        help="deck of scene kinds, repeats weight them (default: mixed x3, camera_motion, spinning, "
                             "repeated, accelerating, ego)")
    add_executor_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from qa4d.sources.sim.simulate import SimOptions, run_simulation

    for name in ("scenes", "frames", "size", "workers"):
        if getattr(args, name) < 1:
            print(f"qa4d simulate: --{name} must be >= 1 (got {getattr(args, name)})", file=sys.stderr)
            return 2
    if args.fps <= 0 or args.start < 0 or args.tracks_per_object < 0 or args.background_tracks < 0:
        print("qa4d simulate: --fps must be > 0; --start and track counts must be >= 0", file=sys.stderr)
        return 2
    from qa4d.sources.sim.deal import KIND_DECK, SCENE_KINDS

    kinds = tuple(args.kinds or KIND_DECK)
    bad = [k for k in kinds if k not in SCENE_KINDS]
    if bad:
        print(f"qa4d simulate: --kinds: unknown {', '.join(bad)} (known: {', '.join(SCENE_KINDS)})", file=sys.stderr)
        return 2
    problem = check_arguments(args)
    if problem:
        print(f"qa4d simulate: {problem}", file=sys.stderr)
        return 2
    opts = SimOptions(
        num_frames=args.frames,
        size=args.size,
        fps=args.fps,
        shadows=args.shadows,
        tracks_per_object=args.tracks_per_object,
        background_tracks=args.background_tracks,
        kinds=kinds,
    )
    try:
        report = run_simulation(args.out, args.scenes, args.seed, opts, workers=args.workers, start=args.start,
                                executor=ExecutorConfig.from_args(args, workers=args.workers))
    except ExecutorError as e:
        print(f"qa4d simulate: {e}", file=sys.stderr)
        return 1
    print(
        f"qa4d simulate: {len(report.written)} written, {len(report.skipped)} already complete, "
        f"{len(report.failed)} failed -> {args.out}",
        file=sys.stderr,
    )
    for index, err in report.failed.items():
        print(f"  failed: scene {index}: {err}", file=sys.stderr)
    return 1 if report.failed else 0
