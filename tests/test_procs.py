"""qa4d._procs.sigint_flagged: Ctrl-C as a flag that a waiting loop polls (the Ray executor's loop)."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from qa4d._procs import sigint_flagged

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sends itself SIGINT")


def ctrl_c(until) -> None:
    """Send this process SIGINT and wait until until() holds (the handler runs in the main thread)."""
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(500):
        if until():
            return
        time.sleep(0.01)


def test_first_ctrl_c_sets_the_flag_and_is_raised_when_the_block_ends():
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_flagged() as interrupted:
            assert not interrupted()
            ctrl_c(interrupted)
            assert interrupted()          # no KeyboardInterrupt inside the block
            reached.append(True)
    assert reached == [True]
    assert signal.getsignal(signal.SIGINT) is before


def test_second_ctrl_c_raises_at_once():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with sigint_flagged() as interrupted:
            ctrl_c(interrupted)
            ctrl_c(lambda: False)         # raises inside the wait
            pytest.fail("the second Ctrl-C did not interrupt")
    assert signal.getsignal(signal.SIGINT) is before


def test_a_block_without_ctrl_c_changes_nothing():
    before = signal.getsignal(signal.SIGINT)
    with sigint_flagged() as interrupted:
        assert not interrupted()
    assert signal.getsignal(signal.SIGINT) is before


def test_an_ignored_sigint_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with sigint_flagged() as interrupted:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert not interrupted()
    finally:
        signal.signal(signal.SIGINT, before)
