"""The `qa4d` console script: one verb per job.

Each verb lives in its own module, which provides:
  - a module docstring: the verb's --help text (what it reads and what it writes),
  - `add_arguments(parser)`,
  - `run(args) -> int` (the exit code).
Modules are imported only when their verb runs, so `qa4d validate` never pays for torch.

Failures end cleanly for every verb (docs/developing.md, "Failing cleanly"): an `--out` that is
an existing file, a full disk or another OSError, Ctrl-C, or a bug give one line on stderr
(`qa4d VERB: ...`), no traceback, and no temporary file left in --out. `--debug` (or
QA4D_DEBUG=1) shows the traceback as well. Exit codes: 0 success; 1 failure (I/O error, a bug,
or a verb's own failure); 2 bad input or usage; 3 `qa4d eval`: some items failed; 130
interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

# verb -> (module, one-line summary). Adding a verb is one line here plus its module.
VERBS: dict[str, tuple[str, str]] = {
    "simulate": ("qa4d.sources.sim.cli", "render random 4D scenes with the built-in PyBullet simulator"),
    "convert": ("qa4d.sources.convert_cli", "convert a 4D dataset (Kubric, TAPVid-3D, VKITTI2, ...) into scenes"),
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
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of a failure (also QA4D_DEBUG=1)")
        p.set_defaults(_run=module.run)
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure (also QA4D_DEBUG=1)")
    return parser


def describe_os_error(e: OSError) -> str:
    """One line for an OSError: what happened and to which file, without the errno noise."""
    name = e.filename if e.filename is not None else None
    what = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        what = "no space left on device (the disk is full)"
    elif isinstance(e, (FileExistsError, NotADirectoryError)):
        what = "a file is in the way where a directory is needed"
    if name is None:
        return what
    where = f"{name}" + (f" -> {e.filename2}" if e.filename2 is not None else "")
    return f"{where}: {what}"


def _debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("QA4D_DEBUG", "") not in ("", "0")


def _remove_temporaries(out: Path | None) -> None:
    """After a failure: the hidden temporary files of interrupted atomic writes under --out."""
    if out is None:
        return
    from qa4d._io import remove_stale_temporaries

    try:
        remove_stale_temporaries(out)
    except OSError:
        pass


def run_verb(verb: str, args: argparse.Namespace) -> int:
    """Run a parsed verb; every failure becomes one line on stderr and an exit code."""
    out = getattr(args, "out", None)
    out = Path(out) if out is not None else None
    if out is not None and out.exists() and not out.is_dir():
        print(f"qa4d {verb}: --out {out} is an existing file; give a directory", file=sys.stderr)
        return 2
    debug = _debug(args)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        _remove_temporaries(out)
        print(f"qa4d {verb}: interrupted (Ctrl-C); files already complete are kept, "
              "run the same command again to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `qa4d ... | head`: the reader went away, nothing to report
        try:
            sys.stdout = open(os.devnull, "w")  # no second error when Python flushes stdout at exit
        except OSError:
            pass
        return 1
    except OSError as e:
        if debug:
            traceback.print_exc()
        _remove_temporaries(out)
        print(f"qa4d {verb}: error: {describe_os_error(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: one line by default, the traceback with --debug
        if debug:
            traceback.print_exc()
        _remove_temporaries(out)
        hint = "" if debug else "; run with --debug for the traceback"
        first = (str(e).strip().splitlines() or [""])[0]
        print(f"qa4d {verb}: internal error: {type(e).__name__}: {first}{hint}", file=sys.stderr)
        return 1


# Verbs whose NumPy may do large matrix work (training; local models in eval) keep OpenBLAS's
# thread pool. The others work on small arrays, in one process or one worker per core, where
# OpenBLAS's idle pool threads only busy-wait: 0.1-0.2 CPU s per process on this project's 2-core
# machine (docs/benchmarks.md), in every worker too, and they oversubscribe the cores a pool uses.
BLAS_THREADED_VERBS = frozenset({"train", "eval"})


def one_blas_thread(verb: str | None) -> None:
    """Ask OpenBLAS for one thread before NumPy is imported, unless `verb` does matrix work or
    the user set OPENBLAS_NUM_THREADS (kept as given). Worker processes inherit it."""
    if verb not in BLAS_THREADED_VERBS and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    if verb not in VERBS:
        verb = None
    one_blas_thread(verb)
    parser = build_parser(verb)
    if verb is None:
        parser.print_help()
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    args = parser.parse_args(argv)
    return run_verb(verb, args)


if __name__ == "__main__":
    sys.exit(main())
