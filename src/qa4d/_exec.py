"""Where the per-scene (or per-batch) work of a verb runs: `--executor local|ray`.

A stage hands an executor a module-level function and a list of picklable jobs; the executor
yields one `Done(index, result, error)` per job as jobs finish, in completion order. `order`
(job indices) is the order in which parallel executors start the jobs, e.g. the costliest first
so that no worker is left with a long job while the others wait at the end of a phase; it never
changes a job's index or what `in_order` yields. The stage
decides what to do with each (write it, count it, report it); `in_order` turns the completions
into job order where the stage writes something whose order matters. The same function, jobs and
order give the same files whichever executor ran them.

- `local` (the default): `workers` <= 1 runs the jobs here, one after another; more uses a
  process pool whose workers ignore Ctrl-C and die with this process (qa4d._procs). The pool
  is started by the first `run` and serves every later `run` of the executor until it is
  closed (a verb with two parallel phases forks its workers once).
- `ray`: each job is a Ray task (one CPU by default) on the cluster at `--ray-address` (or
  RAY_ADDRESS), or on a local Ray started for this run (and stopped at its end). Workers must see
  the files at the same paths as this process (shared storage; docs/scale.md). A task whose
  worker died is retried by Ray; a job must therefore be safe to run twice (every qa4d job writes
  its files atomically and the same bytes each time).

`error` is the exception of a job that raised (or whose worker crashed); a stage's function
catches the errors it can explain itself and returns them as results.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import logging
import multiprocessing as mp
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Sequence

from qa4d._procs import init_worker, sigint_deferred, stop_executor

EXECUTORS = ("local", "ray")


class ExecutorError(RuntimeError):
    """The executor cannot start (Ray not installed, no cluster at the address); message says why."""


class Done(NamedTuple):
    index: int                   # position of the job in the list given to `run`
    result: Any                  # what the function returned (None when error is set)
    error: BaseException | None  # what the function raised, or why its worker died


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """`--executor` and `--ray-address`, the same for every verb that has them."""
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="where the work runs: local (processes on this machine, the default) or ray "
                             "(a Ray cluster; needs `pip install qa4d[ray]`; docs/scale.md)")
    parser.add_argument("--ray-address", default=None, metavar="ADDR",
                        help="with --executor ray: the cluster to use (e.g. ray://head:10001 or head:6379; "
                             "default: $RAY_ADDRESS, else a local Ray started for this run)")


@dataclass
class ExecutorConfig:
    """Which executor and how wide: `workers` processes locally, `cpus_per_task` CPUs per Ray task."""

    kind: str = "local"
    workers: int = 1
    ray_address: str | None = None
    cpus_per_task: float = 1.0
    start_method: str = "spawn"  # local pool; "fork" where the parent's state is fork-safe

    @classmethod
    def from_args(cls, args: argparse.Namespace, workers: int = 1, **kw: Any) -> "ExecutorConfig":
        return cls(kind=getattr(args, "executor", "local") or "local", workers=workers,
                   ray_address=getattr(args, "ray_address", None), **kw)


def check_arguments(args: argparse.Namespace) -> str | None:
    """The usage error of --executor/--ray-address, or None (checked before any work)."""
    if getattr(args, "ray_address", None) and getattr(args, "executor", "local") != "ray":
        return "--ray-address needs --executor ray"
    if getattr(args, "executor", "local") == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            return "--executor ray needs Ray: pip install 'qa4d[ray]'"
    return None


class Executor:
    """Runs `fn(job)` for every job; see the module docstring."""

    kind = "local"
    parallel = False  # whether jobs run outside this process

    def run(self, fn: Callable[[Any], Any], jobs: Sequence[Any], window: int | None = None,
            order: Sequence[int] | None = None) -> Iterator[Done]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InlineExecutor(Executor):
    """Every job here, one after another (local with one worker)."""

    def run(self, fn, jobs, window=None, order=None):
        for i, job in enumerate(jobs):  # one process: the order of the jobs changes nothing
            try:
                result = fn(job)
            except Exception as e:  # reported like a crashed worker; KeyboardInterrupt goes up
                yield Done(i, None, e)
            else:
                yield Done(i, result, None)


class PoolExecutor(Executor):
    """A local process pool: workers ignore Ctrl-C and die with this process (qa4d._procs).
    One pool serves every `run` until `close`; a failed or interrupted `run` stops it (the next
    `run` starts another)."""

    parallel = True

    def __init__(self, workers: int, start_method: str = "spawn"):
        self.workers = workers
        self.start_method = start_method
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get_pool(self, n_jobs: int) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=max(1, min(self.workers, n_jobs)),
                                                mp_context=mp.get_context(self.start_method),
                                                initializer=init_worker, initargs=(os.getpid(),))
        return self._pool

    def run(self, fn, jobs, window=None, order=None):
        n = len(jobs) if hasattr(jobs, "__len__") else self.workers
        if not n:
            return
        pool = self._get_pool(n)
        todo = iter(_ordered(jobs, order))
        limit = window or n
        pending: dict[cf.Future, int] = {}
        try:
            while True:
                with sigint_deferred():  # the first submits start the workers
                    while len(pending) < limit:
                        nxt = next(todo, None)
                        if nxt is None:
                            break
                        pending[pool.submit(fn, nxt[1])] = nxt[0]
                if not pending:
                    break
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in sorted(done, key=pending.__getitem__):
                    i = pending.pop(fut)
                    try:
                        yield Done(i, fut.result(), None)
                    except Exception as e:  # the function raised, or its process died
                        yield Done(i, None, e)
        except BaseException:  # Ctrl-C, a fatal error, or the caller stopped early: stop now
            self._pool = None
            stop_executor(pool)
            raise

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()


class RayExecutor(Executor):
    """Jobs as Ray tasks on a cluster (see the module docstring)."""

    kind = "ray"
    parallel = True

    def __init__(self, address: str | None = None, cpus_per_task: float = 1.0, **init_kw: Any):
        try:
            import ray
        except ImportError:
            raise ExecutorError("--executor ray needs Ray: pip install 'qa4d[ray]'") from None
        self._ray = ray
        self.cpus_per_task = cpus_per_task
        self._owns = False
        if not ray.is_initialized():  # else: the caller's Ray (a test, a notebook) is used as is
            kw: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
            kw.update(init_kw)
            try:
                ray.init(address=address, **kw)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"--executor ray: cannot connect to Ray at {address or 'a new local cluster'}: "
                                    f"{e}") from None
            self._owns = True
        self._remote = ray.remote(_ray_call).options(num_cpus=cpus_per_task)

    def cluster_cpus(self) -> int:
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    def run(self, fn, jobs, window=None, order=None):
        ray = self._ray
        cwd = os.getcwd()
        todo = iter(_ordered(jobs, order))
        pending: dict[Any, int] = {}
        try:
            while True:
                self._submit(fn, cwd, todo, pending, window)
                if not pending:
                    break
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    yield self._outcome(pending.pop(ref), ref)
        except BaseException:  # Ctrl-C, a fatal error, or the caller stopped early: stop the rest
            if self._owns:
                # Ray ends a driver's tasks when it disconnects. Cancelling them first can abort
                # this process: Ray 2.60's task manager fails a check ("Tried to complete task that
                # was not pending") when a forced cancel races with a task's reply.
                self.close()
            else:  # the caller's Ray stays connected: cancel
                self._cancel(list(pending))
            raise

    def _submit(self, fn: Callable[[Any], Any], cwd: str, todo: Iterator[tuple[int, Any]], pending: dict[Any, int],
                window: int | None) -> None:
        """Send jobs until `pending` holds `window` of them, by default twice the task slots the
        cluster has now: a growing (autoscaling) cluster always sees queued tasks, and a huge job
        list is not all queued at once."""
        limit = window or max(2 * int(self.cluster_cpus() / max(self.cpus_per_task, 1e-3)), 2)
        while len(pending) < limit:
            nxt = next(todo, None)
            if nxt is None:
                break
            pending[self._remote.remote(fn, cwd, nxt[1])] = nxt[0]

    def _outcome(self, index: int, ref: Any) -> Done:
        ray = self._ray
        try:
            return Done(index, ray.get(ref), None)
        except ray.exceptions.RayTaskError as e:  # the function raised: its own exception
            return Done(index, None, _cause(e))
        except ray.exceptions.RayError as e:  # the worker died (after Ray's retries)
            return Done(index, None, e)

    def _cancel(self, refs: list[Any]) -> None:
        ray = self._ray
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 (already finished or gone)
                pass

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns = False


def _ray_call(fn: Callable[[Any], Any], cwd: str, job: Any) -> Any:
    """A Ray task: `fn(job)` in the driver's working directory when this worker sees it (so relative
    paths mean what they mean to the driver; give absolute paths when the workers do not)."""
    if os.path.isdir(cwd):
        os.chdir(cwd)
    return fn(job)


def _cause(e: BaseException) -> BaseException:
    """The user's exception inside a RayTaskError (its class and message, as a local run raises)."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e


def make_executor(cfg: ExecutorConfig) -> Executor:
    """The executor `cfg` names; raises ExecutorError when Ray cannot be used."""
    if cfg.kind == "ray":
        return RayExecutor(cfg.ray_address, cpus_per_task=cfg.cpus_per_task)
    if cfg.kind != "local":
        raise ExecutorError(f"--executor {cfg.kind!r}: expected one of {', '.join(EXECUTORS)}")
    if cfg.workers > 1:
        return PoolExecutor(cfg.workers, cfg.start_method)
    return InlineExecutor()


def _ordered(jobs: Iterable[Any], order: Sequence[int] | None) -> Iterable[tuple[int, Any]]:
    """(index, job) pairs in `order` (a permutation of the job indices), else in job order."""
    if order is None:
        return enumerate(jobs)
    jobs = list(jobs)
    if sorted(order) != list(range(len(jobs))):
        raise ValueError(f"order: expected a permutation of 0..{len(jobs) - 1}")
    return ((i, jobs[i]) for i in order)


def in_order(outcomes: Iterable[Done]) -> Iterator[Done]:
    """The completions of `Executor.run` in job order: each is held back until every earlier
    job's completion was yielded (what a one-worker run would have produced, in its order)."""
    held: dict[int, Done] = {}
    nxt = 0
    for d in outcomes:
        held[d.index] = d
        while nxt in held:
            yield held.pop(nxt)
            nxt += 1
