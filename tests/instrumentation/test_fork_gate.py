"""The fork gate: re-entrant, forks wait for the other threads inside, entries wait for forks."""

from __future__ import annotations

import os
import threading
import time

import pytest

from max_otel.instrumentation.fork_gate import FORK_GATE, ForkGate

pytestmark = pytest.mark.unit


def test_a_thread_can_enter_again_while_inside_and_a_fork_still_waits_for_it() -> None:
    gate = ForkGate(max_wait=5.0)
    inside = threading.Event()
    release = threading.Event()
    left = threading.Event()

    def nested() -> None:
        gate.enter()
        gate.enter()
        gate.leave()  # still inside the outer call
        inside.set()
        release.wait()
        time.sleep(0.2)
        left.set()
        gate.leave()

    thread = threading.Thread(target=nested)
    thread.start()
    inside.wait()
    release.set()
    gate.before_fork()
    assert left.is_set()
    gate.after_fork_in_parent()
    thread.join()


def test_a_thread_entering_during_a_fork_waits_until_the_fork_is_done() -> None:
    gate = ForkGate(max_wait=5.0)
    gate.before_fork()
    entered = threading.Event()

    def enter() -> None:
        gate.enter()
        entered.set()
        gate.leave()

    thread = threading.Thread(target=enter)
    thread.start()
    assert not entered.wait(0.2)
    gate.after_fork_in_parent()
    assert entered.wait(5.0)
    thread.join()


def test_a_thread_that_forks_while_inside_does_not_wait_for_itself() -> None:
    FORK_GATE.enter()
    try:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            FORK_GATE.leave()  # the child keeps the parent thread's place inside
            FORK_GATE.enter()
            FORK_GATE.leave()
            os._exit(0)
        waited = time.monotonic() - started
    finally:
        FORK_GATE.leave()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert waited < 1.0  # not the gate's 3 s max_wait
