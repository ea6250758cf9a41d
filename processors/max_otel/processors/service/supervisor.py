"""The parent process: forks the workers, relays signals, restarts a worker that dies.

The parent never creates a gRPC object (gRPC is not fork-safe): it forks ``workers``
children first, and each child builds its own server, channel and metrics endpoint
(:mod:`max_otel.processors.service.worker`). The port is shared with ``SO_REUSEPORT``; the
kernel spreads connections over the workers::

    exit_status = supervise(config.worker_count, lambda index: run_worker(...))

- SIGTERM / SIGINT are relayed to every worker; the parent waits for all of them and exits
  0 when they all exited 0 (graceful shutdown), 1 otherwise;
- SIGHUP: ``check_reload()`` runs first in the parent (it loads the new rules); if it raises,
  one line is logged and the workers keep their rules; otherwise SIGHUP is relayed and each
  worker reloads;
- a worker that dies on its own is restarted after a second; if one exits with status 2 (it
  could not start, e.g. the port is taken) the others are stopped and the parent exits 2.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

logger = logging.getLogger(__name__)

_RESTART_DELAY = 1.0
_START_FAILURE = 2
_early_stop = False


def _request_early_stop(signum: int, frame: FrameType | None) -> None:
    global _early_stop
    _early_stop = True


def stop_requested_early() -> bool:
    """True if this worker got SIGTERM/SIGINT before it installed its own handlers."""
    return _early_stop


def reload_failure(error: BaseException) -> str:
    """The one log line saying a rules reload failed and why."""
    reason = " ".join(str(error).split())
    return f"rules reload failed, keeping the previous rules: {reason}"


def _fork(index: int, work: Callable[[int], int]) -> int:
    pid = os.fork()
    if pid:
        return pid
    # Child: drop the parent's handlers before anything else. Until the worker installs its
    # own, a SIGTERM is remembered (the worker then stops as soon as it has started).
    signal.signal(signal.SIGTERM, _request_early_stop)
    signal.signal(signal.SIGINT, _request_early_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    status = 1
    try:
        status = work(index)
    except BaseException:
        logger.exception("worker %d failed", index)
    finally:
        logging.shutdown()
        os._exit(status)


def supervise(
    workers: int,
    work: Callable[[int], int],
    check_reload: Callable[[], object] | None = None,
) -> int:
    """Run ``work(index)`` in ``workers`` forked processes; return the exit status."""
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False
    failed = False

    def relay(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            signum = signal.SIGTERM
        elif signum == signal.SIGHUP and check_reload is not None:
            try:
                check_reload()
            except Exception as error:  # any failure keeps the rules in force
                logger.error("%s", reload_failure(error))
                return
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, relay)
    for index in range(workers):
        children[_fork(index, work)] = index

    while children:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        if index < 0:
            continue
        code = os.waitstatus_to_exitcode(wait_status)
        if stopping:
            failed |= code != 0
            continue
        if code == _START_FAILURE:
            logger.error("worker %d could not start; stopping the others", index)
            stopping = failed = True
            relay(signal.SIGTERM, None)
            return_code = _START_FAILURE
            _wait_all(children)
            return return_code
        logger.error("worker %d exited with status %d; restarting it", index, code)
        time.sleep(_RESTART_DELAY)
        if not stopping:
            children[_fork(index, work)] = index
    return 1 if failed else 0


def _wait_all(children: dict[int, int]) -> None:
    while children:
        try:
            pid, _ = os.wait()
        except ChildProcessError:
            return
        children.pop(pid, None)
