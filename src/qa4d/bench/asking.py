"""Asking a model the items of a `qa4d eval` run (the run directory is `qa4d.bench.runner`'s).

An `Asker` prepares an item (media and prompt), asks the model one item or one batch at a time,
and hands every record ({"id", "response"} or {"id", "response": None, "error"}) to a `save`
callback the moment it exists. The batches run either on the model's `concurrency` threads in
this process (`ask_in_threads`) or as jobs of a `qa4d._exec` executor such as Ray tasks
(`ask_on_executor`, each worker building its own model); a ModelConfigError or Ctrl-C stops both.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from qa4d.bench.media import MediaError, Shown, load_frames, load_prefix_images
from qa4d.bench.models.base import Model, ModelConfigError, ModelError
from qa4d.bench.types import BenchItem


def in_batches(items: Iterable[BenchItem], size: int) -> Iterator[list[BenchItem]]:
    """`items` in lists of `size` (the last may be shorter), read only as each list is asked for."""
    batch: list[BenchItem] = []
    for it in items:
        batch.append(it)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Asker:
    """Prepares a batch (media, prompt), asks the model and hands every record to `save` (which
    writes it, or only collects it in a remote worker); `stop` ends the work early."""

    def __init__(self, benchmark: Any, model: Model, media_root: Any, mode: str, frames: int | None,
                 batching: bool, stop: threading.Event, save: Callable[[dict[str, Any]], dict[str, Any]],
                 log: Callable[[str], None]):
        self.benchmark, self.model, self.media_root, self.mode, self.frames = benchmark, model, media_root, mode, frames
        self.batching, self.stop, self.save, self.log = batching, stop, save, log
        self.resolve = getattr(benchmark, "media_paths", None)      # the same paths check_media looked at
        self.resolve_prefix = getattr(benchmark, "prefix_paths", None)
        self.as_paths = bool(getattr(model, "accepts_paths", False))

    @staticmethod
    def failed(item: BenchItem, e: BaseException) -> dict[str, Any]:
        msg = str(e) if isinstance(e, (ModelError, MediaError)) else f"{type(e).__name__}: {e}"
        return {"id": item.id, "response": None, "error": msg}

    def prepare(self, item: BenchItem) -> tuple[str, list]:
        """(prompt, images): the prefix images (e.g. a Set-of-Marks image), then the sampled frames,
        as a `Shown` list (with the frames' times). Stored images stay paths for models that take
        paths (`accepts_paths`); video frames are always decoded."""
        if not self.model.needs_images:
            # the prompt may state how many frames are shown (blind models: how many would be)
            return self.benchmark.build_prompt(item, self.mode, frames=self.frames), []
        prefix = load_prefix_images(item, self.media_root, as_paths=self.as_paths,
                                    paths=(self.resolve_prefix(item, self.media_root)
                                           if self.resolve_prefix is not None else None))
        paths = self.resolve(item, self.media_root) if self.resolve is not None else None
        sampled = load_frames(item, self.media_root, self.frames, as_paths=self.as_paths, paths=paths)
        shown = Shown(prefix + sampled.images, n_prefix=len(prefix), times=sampled.timestamps)
        return self.benchmark.build_prompt(item, self.mode, frames=len(sampled.images)), shown

    def ask_one(self, item: BenchItem, prompt: str, images: list) -> dict[str, Any]:
        try:
            text = self.model.generate(prompt, images, item)
            if not isinstance(text, str):
                raise ModelError(f"model returned {type(text).__name__}, not text")
            return {"id": item.id, "response": text}
        except (ModelConfigError, KeyboardInterrupt, SystemExit):
            self.stop.set()
            raise
        except Exception as e:  # a bad item (or a user callable's bug) is recorded; the run goes on
            return self.failed(item, e)

    def answer(self, batch: list[BenchItem]) -> list[dict[str, Any]]:
        """Ask one batch; every record is saved before this returns (none when stopped first)."""
        saved, ready = self._prepare_batch(batch)
        if not ready or self.stop.is_set():
            return saved
        if len(ready) == 1 or not self.batching:
            return saved + self._ask_each(ready)
        return saved + self._ask_together(ready)

    def _prepare_batch(self, batch: list[BenchItem]) -> tuple[list[dict[str, Any]], list[tuple[BenchItem, str, list]]]:
        """(the saved records of items whose media cannot be read, (item, prompt, images) of the
        others); stops preparing when `stop` is set."""
        saved: list[dict[str, Any]] = []
        ready: list[tuple[BenchItem, str, list]] = []
        for item in batch:
            if self.stop.is_set():
                break
            try:
                ready.append((item, *self.prepare(item)))
            except (KeyboardInterrupt, SystemExit):
                self.stop.set()
                raise
            except Exception as e:  # unreadable media: this item fails, its batch-mates go on
                saved.append(self.save(self.failed(item, e)))
        return saved, ready

    def _ask_each(self, ready: list[tuple[BenchItem, str, list]]) -> list[dict[str, Any]]:
        """One model call per item, each record saved as it arrives, until `stop` is set."""
        saved = []
        for item, prompt, images in ready:
            if self.stop.is_set():
                break
            saved.append(self.save(self.ask_one(item, prompt, images)))
        return saved

    def _ask_together(self, ready: list[tuple[BenchItem, str, list]]) -> list[dict[str, Any]]:
        """One `generate_batch` call; when it fails, the items are asked one at a time, so that
        one bad item does not fail its batch-mates."""
        try:
            texts = self.model.generate_batch([r[1] for r in ready], [r[2] for r in ready], [r[0] for r in ready])
            if not isinstance(texts, (list, tuple)) or len(texts) != len(ready):
                got = len(texts) if isinstance(texts, (list, tuple)) else type(texts).__name__
                raise ModelError(f"generate_batch returned {got} answers for {len(ready)} items")
        except (ModelConfigError, KeyboardInterrupt, SystemExit):
            self.stop.set()
            raise
        except Exception as e:
            self.log(f"batch of {len(ready)} failed ({type(e).__name__}: {e}); asking its items one at a time")
            return self._ask_each(ready)
        return [self.save({"id": item.id, "response": text} if isinstance(text, str) else
                          self.failed(item, ModelError(f"model returned {type(text).__name__}, not text")))
                for (item, _, _), text in zip(ready, texts)]


def ask_in_threads(asker: Asker, workers: int, batches: Iterable[list[BenchItem]], stop: threading.Event,
                    shown: Callable[[list[dict[str, Any]]], None],
                    log: Callable[[str], None]) -> BaseException | None:
    """The local way: batches on `workers` threads (the model's concurrency); records are saved by
    the asker as they arrive. Returns a ModelConfigError that stopped the run; on Ctrl-C waits for
    the requests in flight (so their answers are saved) and raises KeyboardInterrupt."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qa4d-eval")
    pending: set[Future] = set()
    queue = iter(batches)
    fatal: BaseException | None = None
    try:
        while True:
            # a bounded window keeps decoded frames of at most 2 x workers batches in memory
            while len(pending) < 2 * workers and not stop.is_set():
                batch = next(queue, None)
                if batch is None:
                    break
                pending.add(pool.submit(asker.answer, batch))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                try:
                    shown(f.result())
                except ModelConfigError as e:
                    fatal = fatal or e
                    stop.set()
            if fatal is not None and not pending:
                break
    except KeyboardInterrupt:
        stop.set()
        for f in pending:
            f.cancel()
        running = [f for f in pending if not f.cancelled()]
        if running:
            log(f"interrupted: waiting for {len(running)} request(s) in flight so their answers are saved "
                "(Ctrl-C again to abandon them)")
            wait(running)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return fatal


@dataclass
class BatchJob:
    """What a remote worker needs to answer batches: a picklable factory of the model (built once
    per worker process) and the benchmark's protocol."""

    model_factory: Callable[[], Model]
    model_key: str                   # the same for every batch of a run: a worker builds its model once
    benchmark: Any
    media_root: Any
    mode: str
    frames: int | None
    batch_size: int


_WORKER_MODELS: dict[str, Model] = {}


def answer_remote(job: tuple[BatchJob, list[BenchItem]]) -> list[dict[str, Any]]:
    """Executor job: the records of one batch, computed in a worker and saved by the run's process."""
    spec, batch = job
    cached = _WORKER_MODELS.get(spec.model_key)
    if cached is None:
        cached = _WORKER_MODELS[spec.model_key] = spec.model_factory()
    batching = spec.batch_size > 1 and bool(getattr(cached, "supports_batching", False))
    asker = Asker(spec.benchmark, cached, spec.media_root, spec.mode, spec.frames, batching, threading.Event(),
                   save=lambda rec: rec, log=lambda m: print(m, file=sys.stderr))
    return asker.answer(batch)


def ask_on_executor(cfg: Any, job: BatchJob, batches: Iterable[list[BenchItem]],
                     save: Callable[[dict[str, Any]], dict[str, Any]],
                     shown: Callable[[list[dict[str, Any]]], None]) -> None:
    """Batches as jobs of a qa4d._exec executor (e.g. Ray tasks). The records are saved here in
    batch order, whatever order the batches finish in, so predictions.jsonl has the bytes of a
    one-at-a-time local run; a batch that finished early waits in memory until its turn (a killed
    run asks it again). A ModelConfigError from a worker stops the run.

    `batches` is streamed: the executor reads the next job only when a slot of its window frees
    up, and a batch is held here only from its sending until its records are saved."""
    from qa4d._exec import in_order, make_executor  # noqa: PLC0415

    sent: dict[int, list[BenchItem]] = {}  # the batches in flight or waiting for their turn

    def jobs() -> Iterator[tuple[BatchJob, list[BenchItem]]]:
        for i, b in enumerate(batches):
            sent[i] = b
            yield job, b

    with make_executor(cfg) as ex:
        for d in in_order(ex.run(answer_remote, jobs())):
            batch = sent.pop(d.index)
            if d.error is not None:
                if isinstance(d.error, (ModelConfigError, KeyboardInterrupt)):
                    raise d.error
                # the worker died (after Ray's retries): the batch's items fail and are asked again next time
                recs = [Asker.failed(it, d.error) for it in batch]
            else:
                recs = d.result
            shown([save(r) for r in recs])
