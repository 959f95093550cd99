"""Compare evaluation runs side by side.

Reads RUN/metrics.json of each RUN (a `qa4d eval` run directory or a `qa4d score` output).
Writes OUT/report.md (Markdown tables) and OUT/report.html (self-contained page: the same tables
plus a per-category accuracy bar plot as an inline PNG), atomically. Columns follow the order of
the RUN arguments. When the runs do not cover the same items (RUN/scored.jsonl ids) or are on
different benchmarks, a warning per run is printed on stderr and heads the report. Exit code 2
when a RUN has no readable metrics.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories holding metrics.json")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--title", default="Evaluation runs compared", help="report title")


def run(args: argparse.Namespace) -> int:
    from qa4d.bench.report import compare_runs

    warnings: list[str] = []
    try:
        md, page = compare_runs(args.runs, args.out, title=args.title, warnings=warnings)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {md} and {page}")
    return 0
