"""Check scene directories against scene format v1 (docs/scene-format.md).

Reads:  SCENE_DIR... (a scene directory, or a directory whose sub-directories are scenes)
Writes: nothing; prints one line per problem ("scene: field: what is wrong") and a summary.
Exit code 0 when every scene is valid, 1 when any is not, 2 when a path holds no scene.
Scenes given together must have distinct scene ids (a repeated id is a problem of each scene).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa4d.scene.format import META_FILE
from qa4d.scene.validate import check_scenes, scene_dirs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="SCENE_DIR", type=Path)
    parser.add_argument("--no-frames", action="store_true", help="skip reading the frame image files (their paths are still checked)")
    parser.add_argument("--workers", type=int, default=1, help="processes checking scenes in parallel (1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print problems only, no summary")


def expand(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Scene directories named by `paths` (each itself a scene or a parent of scenes), and the
    paths that hold none."""
    return scene_dirs(paths)


def run(args: argparse.Namespace) -> int:
    scenes, empty = expand(args.paths)
    for p in empty:
        print(f"{p}: no scene here (no {META_FILE} and no sub-directories)", file=sys.stderr)
    # each scene on its own, then across them (a scene_id used twice is a problem of both)
    reports = check_scenes(scenes, check_frames=not args.no_frames, workers=max(1, args.workers))
    n_bad = 0
    for r in reports:
        if r.problems:
            n_bad += 1
            for prob in r.problems:
                print(str(prob))
    if not args.quiet:
        print(f"{len(scenes) - n_bad} of {len(scenes)} scenes valid", file=sys.stderr)
    if n_bad:
        return 1
    return 2 if empty else 0
