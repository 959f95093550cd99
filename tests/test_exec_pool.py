"""The local process pool of qa4d._exec: one pool serves every `run` until the executor closes, a
`run` that stops early takes its pool down (the next starts another), and `order` decides which
jobs start first without changing their indices."""

from __future__ import annotations

import os
import time

import pytest

from qa4d._exec import InlineExecutor, PoolExecutor, in_order
from qa4d.engine.generate import costliest_first


def pid_of(job: int) -> tuple[int, int]:
    time.sleep(0.02)
    return job, os.getpid()


def started_at(job: int) -> tuple[int, int]:
    return job, time.monotonic_ns()


def fails_on_three(job: int) -> int:
    if job == 3:
        raise ValueError("three")
    return job * 10


def test_one_pool_serves_both_runs_and_is_gone_after_close():
    ex = PoolExecutor(2, "fork")
    with ex:
        first = {d.index: d.result for d in ex.run(pid_of, list(range(8)))}
        second = {d.index: d.result for d in ex.run(pid_of, list(range(8)))}
        pids = {pid for _, pid in first.values()}
        procs = list(ex._pool._processes.values())
    assert [first[i][0] for i in range(8)] == list(range(8)) == [second[i][0] for i in range(8)]
    assert len(pids) == 2 and os.getpid() not in pids
    assert {pid for _, pid in second.values()} <= pids  # no new worker for the second run
    assert ex._pool is None and not any(p.is_alive() for p in procs)


def test_a_run_stopped_early_takes_its_pool_down_and_the_next_run_starts_another():
    with PoolExecutor(2, "fork") as ex:
        it = ex.run(pid_of, list(range(6)))
        next(it)
        old = list(ex._pool._processes.values())
        it.close()  # the caller stops reading (as on Ctrl-C or a fatal error)
        assert ex._pool is None and not any(p.is_alive() for p in old)
        again = sorted(d.result[0] for d in ex.run(pid_of, list(range(4))))
    assert again == [0, 1, 2, 3]


def test_a_failing_job_is_reported_and_the_pool_goes_on():
    with PoolExecutor(2, "fork") as ex:
        done = list(in_order(ex.run(fails_on_three, list(range(5)))))
        assert [d.result for d in done] == [0, 10, 20, None, 40]
        assert isinstance(done[3].error, ValueError) and str(done[3].error) == "three"
        assert sorted(d.result for d in ex.run(fails_on_three, [1, 2])) == [10, 20]


def test_order_decides_which_job_starts_first_and_keeps_the_indices():
    jobs = [10, 11, 12, 13, 14, 15]
    order = [4, 0, 5, 2, 1, 3]
    with PoolExecutor(1, "fork") as ex:  # one worker: jobs run one after another, in start order
        done = list(ex.run(started_at, jobs, order=order))
    assert all(d.result[0] == jobs[d.index] for d in done)
    by_start = [d.index for d in sorted(done, key=lambda d: d.result[1])]
    assert by_start == order
    inline = list(InlineExecutor().run(started_at, jobs, order=order))
    assert [d.result[0] for d in inline] == jobs  # one process: the jobs' own order, same results


def test_order_must_be_a_permutation_of_the_jobs():
    with PoolExecutor(2, "fork") as ex:
        with pytest.raises(ValueError, match="permutation"):
            list(ex.run(pid_of, [1, 2, 3], order=[0, 0, 1]))


def test_costliest_first_puts_long_jobs_first_ties_in_job_order():
    assert costliest_first([3, 9, 1, 9, 0, 3]) == [1, 3, 0, 5, 2, 4]
    assert costliest_first([]) == []
