"""A gate that keeps ``fork()`` from happening while a thread is inside native code whose
locks a child would inherit held.

A child forked while another thread of its parent is inside gRPC, inside an RE2 match, or in
the middle of a metric collection inherits locks that nobody will release there: its first
export, log line or flush can then hang forever (gRPC also skips its fork handlers when a
thread is inside a call: "Other threads are currently calling into gRPC, skipping fork()
handlers"; RE2 keeps its DFA cache under a mutex, taken during a match). Export RPCs
(``grpc_exporters.gate_grpc_calls``), the metric readers' collections
(``process_local.make_metric_readers_process_local``) and every redaction call
(``fork_gated_redactor.ForkGatedRedactor``) run inside ``FORK_GATE.enter()``/``leave()``;
before a fork (registered with ``os.register_at_fork``) the gate stops new entries and waits,
at most ``max_wait`` seconds, for the threads inside to leave::

    FORK_GATE.enter()
    try:
        client.Export(request)
    finally:
        FORK_GATE.leave()

The gate is re-entrant (a thread may enter again while inside), and a thread that forks while
inside does not wait for itself. Entering and leaving costs a few dictionary operations (no
lock) unless a fork is under way: it sits on the path of every redacted log line and span.
"""

from __future__ import annotations

import os
import threading
import time

_DEFAULT_FORK_WAIT_SECONDS = 3.0
_POLL_SECONDS = 0.0005


class ForkGate:
    """Knows which threads are inside; ``before_fork`` waits for them to leave, and threads
    that enter during a fork wait until it is done (in the parent) or start afresh (in the
    child).

    Correct under the GIL: each thread writes only its own entry of ``_inside`` and registers
    before it checks ``_forking``, so a thread either is seen inside by ``before_fork`` or sees
    the fork and steps back.
    """

    def __init__(self, max_wait: float = _DEFAULT_FORK_WAIT_SECONDS) -> None:
        self._max_wait = max_wait
        self._reset()

    def _reset(self) -> None:
        self._inside: dict[int, int] = {}
        self._forking = False
        self._fork_done = threading.Event()
        self._fork_done.set()

    def enter(self) -> None:
        thread = threading.get_ident()
        inside = self._inside
        depth = inside.get(thread, 0)
        inside[thread] = depth + 1
        while self._forking and depth == 0:
            del inside[thread]  # step back and let the fork happen first
            self._fork_done.wait()
            inside[thread] = 1

    def leave(self) -> None:
        thread = threading.get_ident()
        inside = self._inside
        depth = inside[thread]
        if depth == 1:
            del inside[thread]
        else:
            inside[thread] = depth - 1

    def before_fork(self) -> None:
        self._fork_done.clear()
        self._forking = True
        me = threading.get_ident()
        deadline = time.monotonic() + self._max_wait
        while any(thread != me for thread in list(self._inside)) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)

    def after_fork_in_parent(self) -> None:
        self._forking = False
        self._fork_done.set()

    def after_fork_in_child(self) -> None:
        inside = self._inside.get(threading.get_ident(), 0)
        self._reset()  # the other threads do not exist in the child
        if inside:
            self._inside[threading.get_ident()] = inside


FORK_GATE = ForkGate()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=FORK_GATE.before_fork,
        after_in_parent=FORK_GATE.after_fork_in_parent,
        after_in_child=FORK_GATE.after_fork_in_child,
    )
