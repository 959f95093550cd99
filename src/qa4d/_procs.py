"""Worker processes that never outlive their parent and leave Ctrl-C to it.

`init_worker(parent_pid)` is the initializer of every qa4d process pool (`simulate`, the
per-scene phase of `generate`), and pools start their processes inside `sigint_deferred()`:
- SIGINT is ignored in the worker: Ctrl-C reaches the whole process group, and the parent alone
  handles it (it stops the pool and reports one line), so workers print no tracebacks. A worker
  starts with SIGINT blocked (the signal mask is inherited across fork and exec), so even a
  Ctrl-C while it is still importing modules cannot interrupt it; the parent gets that Ctrl-C
  as soon as its workers are started;
- on Linux, prctl(PR_SET_PDEATHSIG, SIGKILL) makes the kernel kill the worker when the parent
  dies, even by SIGKILL; elsewhere (or if prctl fails) a daemon thread polls the parent id and
  exits the worker when it changes.
The files a killed worker was writing stay hidden temporaries (`.NAME.*.tmp`) that the next run
removes (qa4d._io.remove_stale_temporaries).
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Iterator
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _set_parent_death_signal() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(1)


def init_worker(parent_pid: int, interval: float = 0.5) -> None:
    """Pool initializer: ignore SIGINT and die with the parent (`parent_pid` = os.getpid() of it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by sigint_deferred: now ignored
    if not _set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent_pid, interval), daemon=True,
                         name="qa4d-parent-watch").start()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back SIGINT while the block starts worker processes, then deliver it.

    SIGINT is blocked (not ignored): a Ctrl-C that arrives meanwhile stays pending and raises
    KeyboardInterrupt here as soon as the block ends, so it is never lost. Workers inherit the
    blocked mask across fork and exec, so a Ctrl-C cannot interrupt their imports either;
    `init_worker` then ignores SIGINT and unblocks it. No-op outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a pending Ctrl-C is raised now


def stop_executor(pool) -> None:
    """Stop a concurrent.futures.ProcessPoolExecutor now: cancel what has not started and kill
    the worker processes (used on Ctrl-C and on fatal errors, not on success)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.kill()
    for p in procs:
        p.join(10)
