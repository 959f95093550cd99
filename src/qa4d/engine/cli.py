"""Turn scenes into a question-answer dataset, split into train and bench by scene.

Reads scene directories (format v1) under --scenes. Writes, under --out:
  train/samples.jsonl, bench/samples.jsonl   one record per line (docs/samples.md)
  media/<scene_id>/...                        the JPEG images the records reference
  dataset.json                                settings, split, counts and skip reasons per task
  .work/                                      resumable intermediate results (safe to delete after)

The same scenes, settings and --seed give byte-identical output. An interrupted run started
again with the same arguments resumes and ends with the same files.
"""

from __future__ import annotations

import argparse
import json
import sys

from qa4d._exec import ExecutorConfig, ExecutorError, add_executor_arguments, check_arguments



def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults are None so a --preset can set them; the documented default is the dataclass's.
    parser.add_argument("--scenes", required=True, help="directory of scene directories")
    parser.add_argument("--out", required=True, help="dataset directory to write")
    from qa4d.engine.presets import list_presets

    parser.add_argument("--preset", default=None,
                        help=f"named settings applied before the flags below ({', '.join(list_presets())}; "
                             "4dpqa-bench: the 4DP-QA-Bench protocol; see docs/presets.md)")
    parser.add_argument("--seed", type=int, default=None, help="(0)")
    parser.add_argument("--families", nargs="+", default=None, help="question families (default: 4dpqa)")
    parser.add_argument("--tasks", nargs="+", default=None,
                        help="only these tasks, as TASK or FAMILY/TASK (default: all of the families)")
    parser.add_argument("--family-path", action="append", default=[], metavar="DIR",
                        help="a folder of family packages besides the built-in ones (repeatable; also QA4D_FAMILY_PATH)")
    parser.add_argument("--bench-fraction", type=float, default=None, help="share of scenes held out as bench (0.2)")
    parser.add_argument("--segment-frames", type=int, default=None, help="frames per sampled segment (32)")
    parser.add_argument("--media-frames", type=int, default=None, help="images per sample, uniform over the segment (8)")
    parser.add_argument("--segments-per-scene", type=int, default=None, help="segments sampled per scene and task (2)")
    parser.add_argument("--samples-per-segment", type=int, default=None, help="candidates tried per segment and task (3)")
    parser.add_argument("--coord-style", choices=["normalised", "pixels"], default=None,
                        help="how pixel-coordinate references are written (normalised [0,1] or pixels; normalised)")
    parser.add_argument("--jpeg-quality", type=int, default=None, help="(90)")
    parser.add_argument("--thresholds", default=None, help="JSON file of threshold overrides: keys of the families' thresholds.json, or {family: {...}} per family")
    parser.add_argument("--workers", type=int, default=None, help="processes for the per-scene work: scene check, candidates, wording, media (1)")
    add_executor_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from qa4d.engine.generate import GenerateError, generate, print_summary
    from qa4d.engine.presets import PresetError, make_config
    from qa4d.engine.registry import RegistryError, add_family_path

    try:
        for d in args.family_path:
            add_family_path(d)
    except RegistryError as e:
        print(f"qa4d generate: --family-path: {e}", file=sys.stderr)
        return 2
    overrides = None
    if args.thresholds:
        try:
            with open(args.thresholds) as f:
                overrides = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            print(f"qa4d generate: --thresholds {args.thresholds}: {e}", file=sys.stderr)
            return 2
    try:
        cfg = make_config(
            args.scenes, args.out, preset=args.preset, seed=args.seed,
            families=list(args.families) if args.families else None, tasks=list(args.tasks) if args.tasks else None,
            bench_fraction=args.bench_fraction, segment_frames=args.segment_frames, media_frames=args.media_frames,
            segments_per_scene=args.segments_per_scene, samples_per_segment=args.samples_per_segment,
            coord_style=args.coord_style, jpeg_quality=args.jpeg_quality, thresholds=overrides, workers=args.workers,
        )
    except (PresetError, ValueError, TypeError) as e:
        print(f"qa4d generate: {e}", file=sys.stderr)
        return 2
    problem = check_arguments(args)
    if problem:
        print(f"qa4d generate: {problem}", file=sys.stderr)
        return 2
    try:
        summary = generate(cfg, executor=ExecutorConfig.from_args(args, workers=max(1, int(cfg.workers)),
                                                                  start_method="fork"))
    except ExecutorError as e:
        print(f"qa4d generate: {e}", file=sys.stderr)
        return 1
    except (GenerateError, RegistryError, ValueError) as e:
        print(f"qa4d generate: {e}", file=sys.stderr)
        return 2
    print_summary(summary)
    n = sum(sum(c.values()) for c in summary.counts.values())
    print(f"wrote {n} samples to {args.out}", file=sys.stderr)
    return 0
