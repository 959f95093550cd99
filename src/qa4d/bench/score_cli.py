"""Score saved model responses on a benchmark.

Reads:
  --annotations PATH   the benchmark's question file(s) (vlm4d: real_mc.json / synthetic_mc.json
                       or their directory; sti-bench: qa.parquet; multispa: *.jsonl; r4d-bench:
                       test.json; vsti-bench: JSON/JSONL/parquet; qa4d: DATASET/bench or its
                       samples.jsonl)
  --predictions PRED   JSONL, one {"id": ..., "response": "<raw model text>"} per line ({"id",
                       "error"} for a failed item); `id` is the item's id as the loader names it
                       (vlm4d: "real_mc/validation_1") or as the benchmark's own file writes it
                       (vlm4d with one annotation file: "validation_1"). A truncated last line is
                       skipped. Ids that match no question, or several, are reported; when they
                       are most of the file, nothing is scored (exit 2). An id on several
                       lines keeps its last answer (each replaced answer is reported;
                       qa4d.bench.predictions, the reader `qa4d eval` uses too).
Writes (atomically) into --out DIR:
  metrics.json         overall accuracy, n, unparsed count and 95% bootstrap CI, per task, per
                       category and per benchmark grouping (vlm4d: real, synthetic, ego-centric,
                       exo-centric, synthetic false-positive; sti-bench: per scene type)
  scored.jsonl         per item: extracted answer, the rule that read it, correct / score
Unparsed answers score 0; --guess instead picks a seeded random option, as some official
scorers do (for parity only; such items are marked random_guess).
Exit code: 0 on success, 2 on bad input (or an --out that is a file, or a predictions file
whose ids mostly match no question), 1 on an I/O error such as a full disk, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name: qa4d, vlm4d, sti-bench, multispa, r4d-bench, vsti-bench")
    parser.add_argument("--annotations", required=True, type=Path, help="the benchmark's question file or directory")
    parser.add_argument("--predictions", required=True, type=Path, help="PRED.jsonl of {id, response}")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--media-root", type=Path, default=None, help="media directory (only used by loaders that need it)")
    parser.add_argument("--guess", action="store_true", help="random option for unparsed answers (official-scorer parity)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and of --guess (default 0)")


def run(args: argparse.Namespace) -> int:
    import gc

    # Nothing scoring builds holds a reference cycle; without the cyclic collector walking the
    # growing heap, a 100k-item run takes a third less CPU. Memory is freed by reference counting.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if was_enabled:
            gc.enable()


def _consume(items: list):
    """The items in order, each dropped from the list once handed out: the memory of the scored
    part of the benchmark is freed as the run goes on."""
    for i in range(len(items)):
        item = items[i]
        items[i] = None
        yield item


def _run(args: argparse.Namespace) -> int:
    from qa4d.bench.benchmarks.base import BenchmarkFormatError
    from qa4d.bench.registry import get_benchmark
    from qa4d.bench.scoring import (
        id_warnings,
        prediction_id_problem,
        resolve_prediction_ids,
    )
    from qa4d.bench.predictions import read_predictions_file
    from qa4d.bench.score_stream import score_to_files

    try:
        bench = get_benchmark(args.benchmark)()
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    try:
        items = bench.load(args.annotations, args.media_root)
    except BenchmarkFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        preds = read_predictions_file(args.predictions, keep_lines=False)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in preds.problems:
        print(f"warning: {p}", file=sys.stderr)
    resolved = resolve_prediction_ids(bench, items, preds.responses, preds.errors)
    del preds  # the resolved predictions hold what scoring needs
    problem = prediction_id_problem(resolved, items, str(args.predictions), str(args.annotations), bench.name)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for w in id_warnings(resolved):
        print(f"warning: {args.predictions}: {w}", file=sys.stderr)
    metrics = score_to_files(bench, _consume(items), resolved, args.out, guess=args.guess, seed=args.seed)
    o = metrics["overall"]
    lo, hi = o["ci95"]
    print(json.dumps({"benchmark": bench.name, "n": o["n"], "accuracy": round(o["accuracy"], 4),
                      "ci95": [round(lo, 4), round(hi, 4)], "unparsed": o["unparsed"],
                      "errors": o["errors"], "missing": o["missing"],
                      "unknown_prediction_ids": metrics["unknown_prediction_ids"],
                      "ambiguous_prediction_ids": metrics["ambiguous_prediction_ids"], "out": str(args.out)}))
    return 0
