"""The `qa4d` console script: one verb per job.

Each verb lives in its own module, which provides:
  - a module docstring: the verb's --help text (what it reads and what it writes),
  - `add_arguments(parser)`,
  - `run(args) -> int` (the exit code).
Modules are imported only when their verb runs, so `qa4d validate` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# verb -> (module, one-line summary). Adding a verb is one line here plus its module.
VERBS: dict[str, tuple[str, str]] = {
    "simulate": ("qa4d.sources.sim.cli", "render random 4D scenes with the built-in PyBullet simulator"),
    "validate": ("qa4d.scene.cli", "check scene directories against the scene format"),
    "generate": ("qa4d.engine.cli", "turn scenes into a question-answer dataset (train/bench)"),
    "audit": ("qa4d.engine.audit", "recompute every label and measure answer bias"),
    "export": ("qa4d.export.cli", "write a dataset in a trainer's format (llava, sharegpt, ...)"),
    "card": ("qa4d.export.card", "write a Markdown dataset card with plots"),
    "view": ("qa4d.export.view", "write a static HTML gallery of a dataset"),
    "score": ("qa4d.bench.score_cli", "score saved model responses on a benchmark"),
    "eval": ("qa4d.bench.eval_cli", "run a model on a benchmark and score it"),
    "report": ("qa4d.bench.report_cli", "compare evaluation runs side by side"),
    "export-lmms-eval": ("qa4d.bench.lmms_eval", "write a qa4d benchmark as an lmms-eval task"),
    "train": ("qa4d.train.cli", "fine-tune VLMs on a dataset (SFT, P4D distillation, tiny models)"),
}


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa4d",
        description="qa4d: 4D scenes -> question-answer datasets -> training and evaluation of VLMs.",
    )
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (module_name, summary) in VERBS.items():
        if name != verb:
            sub.add_parser(name, help=summary)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=summary,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    if verb not in VERBS:
        verb = None
    parser = build_parser(verb)
    if verb is None:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    args = parser.parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
