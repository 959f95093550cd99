"""Convert a 4D dataset on disk into scenes of format v1 (docs/own-data.md, docs/scene-format.md).

Reads:  SRC, a file or directory in the named dataset's own layout (the converters and what
        each reads are listed below; nothing outside SRC is read)
Writes: OUT/<scene_id>/ per item (scene.json, frames/, arrays.npz), atomically. The scene's
        extra.convert block records the source item, licence note, settings and source frames.
        The same input and settings give the same bytes.

Frames: every --stride-th source frame, at most --max-frames of them; the scene fps is the
source fps / stride. --fps sets the source frame rate when the dataset does not store it (or
to override the converter's default). A bad item is reported (file, key, expected, actual) and
the others go on; the exit code is 1 if any item failed.

Items are converted in --workers processes, or as tasks on a Ray cluster with --executor ray
(--ray-address; the workers must see SRC and --out at the same paths, docs/scale.md); the
scenes are moved into place in item order, so the files do not depend on either.

Example:
  qa4d convert --from kubric movi_e/00000 --out scenes/ --max-frames 24
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qa4d._exec import ExecutorConfig, ExecutorError, add_executor_arguments, check_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qa4d.sources.converters import converter_names, get_converter

    names = converter_names()   # the registry: every module of qa4d.sources.converters
    parser.epilog = "converters (--from NAME):\n" + "\n".join(
        f"  {n:<14}{get_converter(n).description}" for n in names)
    parser.add_argument("--from", dest="source", required=True, metavar="NAME", choices=names,
                        help=f"dataset kind: {', '.join(names)}")
    parser.add_argument("src", type=Path, metavar="SRC", help="source file or directory")
    parser.add_argument("--out", required=True, type=Path, help="output directory (one sub-directory per scene)")
    parser.add_argument("--max-frames", type=int, default=None, help="keep at most N frames (after the stride)")
    parser.add_argument("--stride", type=int, default=1, help="keep every S-th source frame (default 1)")
    parser.add_argument("--fps", type=float, default=None, help="source frame rate (when the dataset does not store it)")
    parser.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    add_executor_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from qa4d.sources.converters import ConvertError, ConvertSettings
    from qa4d.sources.converters._run import convert_all

    if (args.stride < 1 or args.workers < 1 or (args.max_frames is not None and args.max_frames < 1)
            or (args.fps is not None and args.fps <= 0)):
        print("qa4d convert: --stride, --workers and --max-frames must be >= 1, --fps > 0", file=sys.stderr)
        return 2
    problem = check_arguments(args)
    if problem:
        print(f"qa4d convert: {problem}", file=sys.stderr)
        return 2
    settings = ConvertSettings(max_frames=args.max_frames, stride=args.stride, fps=args.fps)
    try:
        report = convert_all(args.source, args.src, args.out, settings,
                             executor=ExecutorConfig.from_args(args, workers=args.workers))
    except ConvertError as e:
        print(f"qa4d convert: {e}", file=sys.stderr)
        return 2
    except ExecutorError as e:
        print(f"qa4d convert: {e}", file=sys.stderr)
        return 1
    for item, err in report.failed:
        print(f"qa4d convert: failed: {err}", file=sys.stderr)
    print(f"qa4d convert: {len(report.written)} scene(s) written, {len(report.failed)} failed -> {args.out}",
          file=sys.stderr)
    return 1 if report.failed else 0
