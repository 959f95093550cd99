"""Run a model on a benchmark and score it.

Reads:
  --benchmark NAME         a registered benchmark (vlm4d, sti-bench, multispa, r4d-bench, vsti-bench,
                           qa4d) with its --annotations file and the videos/images under --media-root;
  --benchmark SPLIT_DIR    or a qa4d split directory (DATASET/bench): its samples.jsonl, images
                           relative to DATASET (the default --media-root).
  --model SPEC             openai | hf | random | prior | oracle | python:MODULE:CALLABLE
                           (model flags below; `prior` fits on DATASET/train/samples.jsonl).

Writes, in --out RUN:
  predictions.jsonl   one {"id", "response"} per item, appended as each answer arrives
                      ({"id", "response": null, "error"} when an item failed after retries);
                      the format `qa4d score --predictions` reads
  run.json            benchmark, model, protocol, arguments, start/finish times, counts
  metrics.json, scored.jsonl, report.md, report.html   the scores (see `qa4d score`)

Every media file is checked before the model is built or called (all missing ones are listed,
exit 1); blind models (random, prior, oracle) read no media and need none. `--batch-size N` hands
a batching model (hf) N items per forward pass; each answer is still saved as its batch returns.
Starting the same command again continues an interrupted run: answered items are never asked
again, failed ones are. Frames are sampled uniformly (--frames, default per benchmark); the prompt
follows the benchmark's protocol (--mode do: direct answer, cot: chain of thought).

--executor ray sends the batches (--batch-size items, one by default) to tasks on a Ray cluster
(--ray-address); every worker builds the model once and must see the benchmark's files at the
same paths (docs/scale.md). Answers are saved in item order, so predictions.jsonl has the bytes
of a local run with --concurrency 1, and an interrupted run resumes the same way.

Exit codes: 0 all items answered and scored; 1 bad input or missing media; 2 the model cannot
run (wrong URL, model name, weights); 3 scored, but some items failed (run again to retry them);
130 interrupted (answers so far are saved).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from qa4d._exec import ExecutorConfig, ExecutorError, add_executor_arguments, check_arguments
from qa4d.bench.benchmarks.base import BenchmarkFormatError
from qa4d.bench.judge import LLMJudge
from qa4d.bench.models.base import ModelConfigError
from qa4d.bench.registry import MODELS, _import_all, get_benchmark, get_model
from qa4d.bench.runner import MediaMissing, RunError, RunInterrupted, run_model, score_run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, metavar="NAME_OR_SPLIT_DIR",
                        help="benchmark name, or a qa4d split directory such as DATASET/bench")
    parser.add_argument("--annotations", type=Path,
                        help="the benchmark's question file (default for a split directory: its samples.jsonl)")
    parser.add_argument("--media-root", type=Path,
                        help="directory the items' media paths are relative to (default for a split "
                             "directory: the dataset root)")
    parser.add_argument("--model", required=True, metavar="SPEC",
                        help="openai | hf | random | prior | oracle | python:MODULE:CALLABLE")
    parser.add_argument("--mode", choices=["do", "cot"], default="do",
                        help="prompt protocol: do = answer directly, cot = chain of thought (default do)")
    parser.add_argument("--frames", type=int, default=None, help="frames per item (default: the benchmark's)")
    parser.add_argument("--out", required=True, type=Path, metavar="RUN", help="run directory")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="items per generate call for models that batch (hf); default 1 = one at a time")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items (in file order)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random baselines, sampling and bootstrap (default 0)")
    parser.add_argument("--guess", action="store_true",
                        help="score unparsed mc/yes-no answers as a seeded random guess (parity with some "
                             "official scorers; off by default: unparsed is wrong)")
    parser.add_argument("--no-score", action="store_true", help="only collect predictions; score later with `qa4d score`")
    add_executor_arguments(parser)
    g = parser.add_argument_group("model options (each applies to the models named in its help)")
    _import_all("qa4d.bench.models")
    for name in sorted(MODELS):
        MODELS[name].add_arguments(g)
    LLMJudge.add_arguments(parser)


def resolve_benchmark(args: argparse.Namespace):
    """(benchmark instance, annotations path, media root, split dir or None) from the arguments."""
    spec = args.benchmark
    path = Path(spec)
    if path.is_dir():
        annotations = args.annotations or path / "samples.jsonl"
        if not Path(annotations).is_file():
            raise RunError(f"--benchmark {spec}: {annotations} does not exist (expected a qa4d split directory)")
        media_root = args.media_root or path.resolve().parent
        return get_benchmark("qa4d")(), Path(annotations), media_root, path.resolve()
    if path.is_file() and path.suffix == ".jsonl":  # DATASET/bench/samples.jsonl itself
        media_root = args.media_root or path.resolve().parent.parent
        return get_benchmark("qa4d")(), path, media_root, path.resolve().parent
    if "/" in spec or spec.endswith(".jsonl"):
        raise RunError(f"--benchmark {spec}: no such directory (expected a benchmark name or a qa4d split directory)")
    try:
        cls = get_benchmark(spec)
    except KeyError as e:
        raise RunError(str(e.args[0])) from None
    if args.annotations is None:
        raise RunError(f"--benchmark {spec} needs --annotations (its question file)")
    if not args.annotations.exists():
        raise RunError(f"--annotations {args.annotations} does not exist")
    return cls(), args.annotations, args.media_root, None


def model_class(spec: str):
    name = "python" if spec.startswith("python:") else spec
    try:
        return get_model(name)
    except KeyError as e:
        raise ModelConfigError(str(e.args[0])) from None


def build_model(args: argparse.Namespace):
    return model_class(args.model).from_args(args)


def model_factory(args: argparse.Namespace):
    """A picklable `() -> Model` that builds the model of these arguments (in a Ray worker)."""
    return functools.partial(build_model, argparse.Namespace(**{k: v for k, v in vars(args).items()
                                                                 if not k.startswith("_")}))


class _Exit(Exception):
    """Ends `qa4d eval` with exit code `code` after one line (the message) on stderr."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class _Source:
    """The benchmark of the arguments and where its items are."""

    benchmark: Any
    annotations: Path
    media_root: Path | None
    limit: int | None
    frames: int | None       # frames per item: --frames, else the benchmark's default

    def items(self) -> Iterator[Any]:
        """The items, read again for each pass (only ids are held while the model runs)."""
        return itertools.islice(self.benchmark.iter_items(self.annotations, self.media_root), self.limit)


def run(args: argparse.Namespace) -> int:
    """`qa4d eval`: ask, then score; returns the exit code (see the module docstring)."""
    judge = None
    try:
        source = _open_benchmark(args)
        _check_items(source, _checked_model_class(args))
        result, judge = _ask(args, source)
        code = _report_answers(args, result)
        if not args.no_score:
            _score(args, source, judge)
        return code
    except _Exit as e:
        print(f"qa4d eval: {e}", file=sys.stderr)
        return e.code
    finally:
        if judge is not None:
            judge.close()


def _open_benchmark(args: argparse.Namespace) -> _Source:
    if args.frames is not None and args.frames <= 0:
        raise _Exit(1, "--frames must be a positive number")
    try:
        benchmark, annotations, media_root, split_dir = resolve_benchmark(args)
        args.split_dir = split_dir  # the prior baseline fits on the train split next to it
    except (RunError, ValueError, OSError) as e:
        raise _Exit(1, str(e)) from None
    return _Source(benchmark, annotations, media_root, None if args.limit is None else max(0, args.limit),
                   args.frames or getattr(benchmark, "default_frames", None))


def _checked_model_class(args: argparse.Namespace):
    """The model's class, once --batch-size and the executor arguments are checked."""
    if args.batch_size < 1:
        raise _Exit(1, "--batch-size must be at least 1")
    problem = check_arguments(args)
    if problem:
        raise _Exit(1, problem)
    try:
        return model_class(args.model)
    except ModelConfigError as e:
        raise _Exit(2, str(e)) from None


def _check_items(source: _Source, model_cls: Any) -> None:
    """One pass over the benchmark before the model is built: every record is read (a bad one stops
    here), and media are checked (loading weights or probing a server is wasted work when files
    are missing). Blind models (needs_images False) never read media: no check."""
    counted = 0

    def counting():
        nonlocal counted
        for it in source.items():
            counted += 1
            yield it
    try:
        problems = (source.benchmark.check_media(counting(), source.media_root)
                    if getattr(model_cls, "needs_images", True) else None)
        if problems is None:
            counted = sum(1 for _ in source.items())
    except (RunError, ValueError, OSError) as e:
        raise _Exit(1, str(e)) from None
    if not counted:
        raise _Exit(1, f"{source.annotations}: no items to evaluate")
    if problems:
        raise _Exit(1, str(MediaMissing(problems)))


def _run_info(args: argparse.Namespace, source: _Source) -> dict[str, Any]:
    """What run.json records about the run (and what must match to resume it)."""
    return {
        "benchmark": getattr(source.benchmark, "name", args.benchmark),
        "annotations": str(Path(source.annotations).resolve()),
        "media_root": None if source.media_root is None else str(Path(source.media_root).resolve()),
        "model": args.model,
        "mode": args.mode,
        "frames": source.frames,
        "seed": args.seed,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                 if not k.startswith("_") and k != "api_key"},
    }


def _ask(args: argparse.Namespace, source: _Source):
    """Build the model (and the judge) and ask it every item not answered yet: (RunResult, judge)."""
    model = judge = None
    try:
        model = build_model(args)
        judge = LLMJudge.from_args(args)
        remote = args.executor != "local"
        result = run_model(source.benchmark, source.items, model, args.out, media_root=source.media_root,
                           mode=args.mode, frames=source.frames, batch_size=args.batch_size,
                           run_info=_run_info(args, source),
                           executor=ExecutorConfig.from_args(args) if remote else None,
                           model_factory=model_factory(args) if remote else None)
    except ModelConfigError as e:
        raise _Exit(2, str(e)) from None
    except RunInterrupted as e:
        raise _Exit(130, str(e)) from None
    # BenchmarkFormatError: a record changed into a bad one since the first pass
    except (RunError, ExecutorError, BenchmarkFormatError) as e:
        raise _Exit(1, str(e)) from None
    finally:
        if model is not None:
            model.close()
    return result, judge


def _report_answers(args: argparse.Namespace, result: Any) -> int:
    """Print what was answered; the exit code so far (3 when some items failed)."""
    print(f"{result.answered} of {result.items} items answered ({result.asked} asked now, "
          f"{result.skipped} from before, {len(result.errors)} failed) -> {args.out}/predictions.jsonl",
          file=sys.stderr)
    if not result.errors:
        return 0
    first = next(iter(result.errors.items()))
    print(f"qa4d eval: {len(result.errors)} item(s) failed (first: {first[0]}: {first[1]}); "
          "they count as wrong; run the same command again to retry them", file=sys.stderr)
    return 3


def _score(args: argparse.Namespace, source: _Source, judge: Any) -> None:
    name = getattr(source.benchmark, "name", args.benchmark)
    try:
        metrics = score_run(source.benchmark, list(source.items()), args.out, guess=args.guess, judge=judge,
                            seed=args.seed, title=f"{args.model} on {name} ({args.mode})")
    except ModelConfigError as e:
        raise _Exit(2, f"judge: {e}") from None
    overall = metrics.get("overall", {})
    acc = overall.get("accuracy")
    print(f"accuracy {acc:.4f} on {overall.get('n')} items ({overall.get('unparsed')} unparsed) -> "
          f"{args.out}/metrics.json, report.md, report.html" if isinstance(acc, (int, float)) else
          f"scored -> {args.out}/metrics.json", file=sys.stderr)
