"""A gate that keeps ``fork()`` from happening while telemetry is being exported.

gRPC's fork handlers only run when no thread is inside a gRPC call (else gRPC logs "Other
threads are currently calling into gRPC, skipping fork() handlers"), and a child forked in
the middle of an export or a metric collection inherits locks that nobody will release
there: its first export or flush can then hang forever. Export RPCs
(``grpc_exporters.gate_grpc_calls``) and the metric readers' collections
(``process_local.make_metric_readers_process_local``) run inside
``FORK_GATE.enter()``/``leave()``; before a fork (registered with ``os.register_at_fork``) the
gate stops new ones and waits, at most ``max_wait`` seconds, for the running ones to finish::

    FORK_GATE.enter()
    try:
        client.Export(request)
    finally:
        FORK_GATE.leave()

The gate is not re-entrant: code inside the gate must not enter it again.
"""

from __future__ import annotations

import os
import threading
import time

_DEFAULT_FORK_WAIT_SECONDS = 3.0


class ForkGate:
    """Counts the gated calls in flight; ``before_fork`` waits for them to finish, and new
    ones wait until the fork is done (in the parent) or start afresh (in the child)."""

    def __init__(self, max_wait: float = _DEFAULT_FORK_WAIT_SECONDS) -> None:
        self._max_wait = max_wait
        self._reset()

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._active = 0
        self._forking = False

    def enter(self) -> None:
        with self._condition:
            while self._forking:
                self._condition.wait()
            self._active += 1

    def leave(self) -> None:
        with self._condition:
            self._active -= 1
            self._condition.notify_all()

    def before_fork(self) -> None:
        with self._condition:
            self._forking = True
            deadline = time.monotonic() + self._max_wait
            while self._active and time.monotonic() < deadline:
                self._condition.wait(deadline - time.monotonic())

    def after_fork_in_parent(self) -> None:
        with self._condition:
            self._forking = False
            self._condition.notify_all()

    def after_fork_in_child(self) -> None:
        self._reset()  # the exporting threads do not exist in the child


FORK_GATE = ForkGate()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=FORK_GATE.before_fork,
        after_in_parent=FORK_GATE.after_fork_in_parent,
        after_in_child=FORK_GATE.after_fork_in_child,
    )
