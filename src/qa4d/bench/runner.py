"""The resumable run loop behind `qa4d eval`.

    RUN/predictions.jsonl  one {"id", "response"} per answered item, or {"id", "response": null,
                           "error"} for an item that failed after the model's retries; appended
                           (write + flush + fsync, under a lock) the moment each answer arrives
    RUN/run.json           what was run (benchmark, model, mode, frames, args), when, and counts
    RUN/metrics.json, RUN/scored.jsonl, RUN/report.md, RUN/report.html   written by scoring

Starting the same command again continues the run: answered ids are skipped, failed ids are
asked again, and a last line truncated by a crash is dropped (its item is asked again). The file
is read by qa4d.bench.predictions, the reader `qa4d score` uses too (an id on several lines:
the last answer wins), and rewritten to one line per id when it needed a repair. For
models that look at images every media file is checked before the first model call. A run
directory belongs to one benchmark, model and protocol: resuming it with a different one is
refused instead of mixing answers. Models that batch get up to `batch_size` items per call.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from tqdm import tqdm

from qa4d._io import remove_stale_temporaries, write_text_atomic
from qa4d.bench.asking import Asker, BatchJob, ask_in_threads, ask_on_executor, in_batches
from qa4d.bench.models.base import Model
from qa4d.bench.predictions import (  # noqa: F401 (Predictions, PredictionWriter: re-exported)
    PREDICTIONS,
    Predictions,
    PredictionWriter,
    read_predictions_file,
    rewrite_predictions,
)
from qa4d.bench.types import BenchItem

RUN_JSON = "run.json"
# Keys of run.json that must match to resume a run directory.
IDENTITY_KEYS = ("benchmark", "annotations", "model", "mode", "frames")
# Keys of Model.describe() that identify the model (a moved server URL does not).
MODEL_IDENTITY_KEYS = ("model", "model_name", "model_path", "callable", "seed", "video_mode", "video_fps",
                       "max_image_side")


class RunError(RuntimeError):
    """The run cannot start or continue (message says why); nothing was asked of the model."""


class MediaMissing(RunError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        head = "\n  ".join(problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} media file(s) missing; no model was called:\n  {head}{more}")


class RunInterrupted(RuntimeError):
    """Ctrl-C: the answers that arrived are saved; start the same command again to continue."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


# -- the run -------------------------------------------------------------------------------------
@dataclass
class RunResult:
    out_dir: Path
    items: int
    answered: int
    errors: dict[str, str]
    asked: int                       # model calls made by this start
    skipped: int                     # items already answered by an earlier start
    metrics: dict[str, Any] | None = None


def _identity(run_info: dict[str, Any]) -> dict[str, Any]:
    ident = {k: run_info.get(k) for k in IDENTITY_KEYS}
    desc = run_info.get("model_info") or {}
    ident["model_info"] = {k: desc[k] for k in MODEL_IDENTITY_KEYS if k in desc}
    return ident


def _check_resume(out_dir: Path, run_info: dict[str, Any]) -> dict[str, Any] | None:
    path = out_dir / RUN_JSON
    if not path.exists():
        return None
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RunError(f"{path} is not valid JSON ({e}); move it away or use a new --out") from None
    a, b = _identity(old), _identity(run_info)
    diffs = [f"{k}: {a[k]!r} (in run.json) vs {b[k]!r} (now)" for k in a if a[k] != b[k]]
    if diffs and (out_dir / PREDICTIONS).exists():
        raise RunError(
            f"{out_dir} holds a run of a different configuration; use a new --out or remove it:\n  "
            + "\n  ".join(diffs)
        )
    return old


def run_model(
    benchmark: Any,
    items: Sequence[BenchItem] | Callable[[], Iterable[BenchItem]],
    model: Model,
    out_dir: str | Path,
    *,
    media_root: str | Path | None,
    mode: str = "do",
    frames: int | None = None,
    batch_size: int = 1,
    run_info: dict[str, Any] | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    executor: Any = None,
    model_factory: Callable[[], Model] | None = None,
) -> RunResult:
    """Ask `model` every item of `items` not yet answered in `out_dir`; returns the counts.

    `items`: a sequence, or a function returning a fresh iterable of the items (called once per
    pass: ids and media, then asking), so that only ids are held and memory does not grow with the
    benchmark (`qa4d eval` passes `Benchmark.iter_items`).

    `run_info` (benchmark, annotations, model spec, mode, frames, args) goes into run.json and
    decides whether an existing `out_dir` may be resumed. A model with `supports_batching` gets
    groups of up to `batch_size` items per `generate_batch` call; the answers of a batch are
    saved as soon as it returns (an interrupted batch saves nothing and is asked again on resume).
    Blind models (`needs_images` False) load no media and skip the media check. Raises
    MediaMissing before any model call, ModelConfigError when the model cannot work, RunInterrupted on Ctrl-C (after the
    requests in flight finished and were saved).

    `executor` (a qa4d._exec.ExecutorConfig other than local) sends the batches to workers
    elsewhere (e.g. Ray tasks); each worker builds its own model with the picklable
    `model_factory` and the answers are saved here in item order (predictions.jsonl gets the bytes
    of a local run with concurrency 1). Without it the batches run on the model's `concurrency`
    threads in this process.
    """
    if batch_size < 1:
        raise RunError(f"batch size must be at least 1, got {batch_size}")
    out_dir = Path(out_dir)
    info = dict(run_info or {})
    info.setdefault("mode", mode)
    info.setdefault("frames", frames)
    previous = _open_run_dir(out_dir, model, info, log)
    each: Callable[[], Iterable[BenchItem]] = items if callable(items) else (lambda: items)
    ids = _item_ids(each())
    _check_media(benchmark, model, each, media_root)
    batching = batch_size > 1 and bool(getattr(model, "supports_batching", False))
    if batch_size > 1 and not batching:
        log(f"batch size {batch_size} ignored: model {getattr(model, 'name', 'model')} answers one item at a time")

    pred_path = out_dir / PREDICTIONS
    todo = _resume(pred_path, ids, out_dir, log)
    _record_start(out_dir, info, previous, {"items": len(ids), "to_ask": todo.n_todo, "skipped": todo.skipped})

    # the items still to ask, read from the benchmark as their batches are sent (none held ahead)
    batches = in_batches((it for it in each() if it.id not in todo.answered), batch_size if batching else 1)
    saver = _Saver(PredictionWriter(pred_path))
    bar = tqdm(total=todo.n_todo, desc=f"eval {getattr(model, 'name', 'model')}", unit="item",
               disable=None if progress is None else not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        if executor is not None and executor.kind != "local":
            if model_factory is None:
                raise RunError(f"--executor {executor.kind} needs a model factory the workers can call")
            job = BatchJob(model_factory, uuid.uuid4().hex, benchmark, media_root, mode, frames, batch_size)
            ask_on_executor(executor, job, batches, saver.save, saver.shower(bar))
        else:
            _ask_locally(Asker(benchmark, model, media_root, mode, frames, batching, threading.Event(), saver.save, log),
                         batches, saver.shower(bar))
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted: {todo.skipped + saver.answered} of {len(ids)} items answered and saved in {pred_path}; "
            "run the same command again to continue"
        ) from None
    finally:
        bar.close()
        saver.writer.close()
    return _finish_run(out_dir, info, model, ids, saver, todo.skipped)


def _ask_locally(asker: Asker, batches: Iterable[list[BenchItem]], shown: Callable[[list[dict[str, Any]]], None]) -> None:
    """The batches on the model's `concurrency` threads; a ModelConfigError that stopped them is
    raised once the requests in flight are saved."""
    workers = max(1, int(getattr(asker.model, "concurrency", 1) or 1))
    fatal = ask_in_threads(asker, workers, batches, asker.stop, shown, asker.log)
    if fatal is not None:
        raise fatal


def _open_run_dir(out_dir: Path, model: Model, info: dict[str, Any],
                  log: Callable[[str], None]) -> dict[str, Any] | None:
    """Create `out_dir` (removing temporaries of an interrupted run), add the model's description
    to `info` (the run.json to be) and check that the directory may be resumed with this run;
    returns the old run.json, or None."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if remove_stale_temporaries(out_dir):
        log(f"{out_dir}: removed temporary files left by an interrupted run")
    info["model_info"] = model.describe()
    return _check_resume(out_dir, info)


def _item_ids(items: Iterable[BenchItem]) -> list[str]:
    """The item ids in order; RunError when one occurs twice (the answers would collide)."""
    ids: list[str] = []
    seen: set[str] = set()
    dups: set[str] = set()
    for it in items:
        if it.id in seen:
            dups.add(it.id)
        seen.add(it.id)
        ids.append(it.id)
    if dups:
        raise RunError(f"the benchmark has duplicate item ids ({', '.join(sorted(dups)[:10])}); answers would collide")
    return ids


def _check_media(benchmark: Any, model: Model, each: Callable[[], Iterable[BenchItem]], media_root: Any) -> None:
    """MediaMissing (listing every missing file) unless the model is blind (`needs_images` False:
    it reads no media, so missing media do not stop it)."""
    check = getattr(benchmark, "check_media", None) if model.needs_images else None
    problems = list(check(each(), media_root)) if check is not None else []
    if problems:
        raise MediaMissing(problems)


@dataclass
class _Todo:
    answered: set[str]   # ids of the benchmark answered by earlier starts (skipped now)
    n_todo: int          # items to ask now (never asked, or failed before)
    skipped: int


def _resume(pred_path: Path, ids: list[str], out_dir: Path, log: Callable[[str], None]) -> _Todo:
    """What earlier starts left in predictions.jsonl. The file is rewritten (atomically) when it
    needed a repair, or to drop the error lines of items asked again now: one line per id."""
    seen = set(ids)
    state = read_predictions_file(pred_path, missing_ok=True)
    todo_ids = seen - state.responses.keys()
    retried = sorted(i for i in state.errors if i in todo_ids)
    if state.needs_rewrite or retried:
        rewrite_predictions(pred_path, state, keep={rid for rid in state.lines
                                                   if rid in state.responses or rid not in todo_ids})
        for r in state.problems:
            log(f"repaired: {r}")
    skipped = len(ids) - len(todo_ids)
    if skipped:
        log(f"resuming {out_dir}: {skipped} of {len(ids)} items already answered"
            + (f", {len(retried)} failed before and asked again" if retried else ""))
    return _Todo(state.responses.keys() & seen, len(todo_ids), skipped)


def _record_start(out_dir: Path, info: dict[str, Any], previous: dict[str, Any] | None,
                  counts: dict[str, int]) -> None:
    """run.json as this start begins (the first start's time is kept across resumes)."""
    started = _now()
    info.update({
        "started": started,
        "first_started": (previous or {}).get("first_started", started),
        "finished": None,
        "python": platform.python_version(),
        "counts": counts,
    })
    write_json_atomic(out_dir / RUN_JSON, info)


class _Saver:
    """Appends each record to predictions.jsonl (from any thread) and counts answers and errors."""

    def __init__(self, writer: PredictionWriter):
        self.writer = writer
        self.answered = 0
        self.errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def save(self, rec: dict[str, Any]) -> dict[str, Any]:
        self.writer.append(rec)
        with self._lock:
            if rec["response"] is None:
                self.errors[rec["id"]] = rec["error"]
            else:
                self.answered += 1
        return rec

    def shower(self, bar: Any) -> Callable[[list[dict[str, Any]]], None]:
        """What shows a batch's saved records on the progress bar."""
        def shown(recs: list[dict[str, Any]]) -> None:
            if recs:
                bar.update(len(recs))
                if any(r["response"] is None for r in recs):
                    bar.set_postfix(errors=len(self.errors), refresh=False)
        return shown


def _finish_run(out_dir: Path, info: dict[str, Any], model: Model, ids: list[str], saver: _Saver,
                skipped: int) -> RunResult:
    """Count the run's outcome from predictions.jsonl and record it in run.json."""
    final = read_predictions_file(out_dir / PREDICTIONS, missing_ok=True)
    errors = {i: final.errors[i] for i in ids if i in final.errors and i not in final.responses}
    answered = sum(1 for i in ids if i in final.responses)
    asked = saver.answered + len(saver.errors)
    info["finished"] = _now()
    info["model_info"] = model.describe()  # now with request counters
    info["counts"] = {"items": len(ids), "answered": answered, "errors": len(errors), "asked": asked,
                      "skipped": skipped}
    write_json_atomic(out_dir / RUN_JSON, info)
    return RunResult(out_dir, len(ids), answered, errors, asked, skipped)


def score_run(
    benchmark: Any,
    items: Sequence[BenchItem],
    out_dir: str | Path,
    *,
    guess: bool = False,
    judge: Any = None,
    seed: int = 0,
    title: str | None = None,
) -> dict[str, Any]:
    """Score RUN/predictions.jsonl; writes metrics.json, scored.jsonl, report.md and report.html."""
    from qa4d.bench.report import write_run_report  # noqa: PLC0415 (scoring is another helper's module)
    from qa4d.bench.score_stream import score_to_files  # noqa: PLC0415
    from qa4d.bench.scoring import _benchmark_instance, resolve_prediction_ids  # noqa: PLC0415

    out_dir = Path(out_dir)
    state = read_predictions_file(out_dir / PREDICTIONS, missing_ok=True, keep_lines=False)
    wanted = {it.id for it in items}
    responses = {k: v for k, v in state.responses.items() if k in wanted}
    errors = {k: v for k, v in state.errors.items() if k in wanted}
    if judge is not None and hasattr(judge, "prefetch"):
        # ask the judge about every unparsed response concurrently; scoring then reads its cache
        from qa4d.bench.extract import extract  # noqa: PLC0415

        unparsed = [(it, responses[it.id]) for it in items
                    if it.id in responses and extract(responses[it.id], it).value is None]
        judge.prefetch(unparsed)
    bench = _benchmark_instance(benchmark)
    items = list(items)
    resolved = resolve_prediction_ids(bench, items, responses, errors)
    # streamed: each scored.jsonl line written as its item is scored (qa4d.bench.score_stream)
    metrics = score_to_files(bench, items, resolved, out_dir, guess=guess, judge=judge, seed=seed)
    write_run_report(out_dir, metrics, title or out_dir.name)
    return metrics
