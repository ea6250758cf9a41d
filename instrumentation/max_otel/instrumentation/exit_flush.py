"""Flush a process's telemetry when it ends, however it ends.

The SDK's providers flush at interpreter exit (``atexit``). Three ways out skip ``atexit``
and lose the spans and logs still queued in the batch processors (up to
``OTEL_BSP_SCHEDULE_DELAY``) and the metrics since the last export:

- a Celery prefork pool process ends with ``os._exit`` (``celery_signals`` calls
  ``flush_telemetry`` on ``worker_process_shutdown``);
- uvicorn, after a graceful shutdown, re-raises the SIGTERM it caught, and the default
  action kills the process;
- any process killed by SIGTERM without a handler;
- a gunicorn ``UvicornWorker``: the worker resets SIGTERM to its default action after the
  fork (dropping the handler below), then uvicorn re-raises it after shutdown. So
  ``flush_after_uvicorn_shutdown`` also flushes at the end of ``uvicorn.Server.shutdown``.

``flush_on_sigterm`` installs a SIGTERM handler (only where the default action is in place,
so an application's own handler is never replaced) that flushes, then restores the default
action and re-raises the signal: the exit status stays "killed by SIGTERM". Every flush here
tries each export once (no retries) and gives up after ``FLUSH_TIMEOUT_SECONDS``, so a
collector that is down cannot hold a stopping process::

    flush_on_sigterm()          # in the main thread, once the providers exist
    flush_after_uvicorn_shutdown()   # when uvicorn is installed
    flush_telemetry()           # True when every provider flushed in time
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import get_logger_provider

from max_otel.instrumentation.process_local import abort_all_retries

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = 5.0


def _flush_quietly(flush: Any, millis: int) -> None:
    try:
        flush(millis)
    except Exception:
        logger.exception("telemetry flush failed")


def flush_telemetry(timeout_seconds: float = FLUSH_TIMEOUT_SECONDS) -> bool:
    """Force-flush the global tracer, logger and meter providers, in parallel threads, for at
    most ``timeout_seconds``; False when one of them did not finish in time."""
    providers = [trace.get_tracer_provider(), get_logger_provider(), metrics.get_meter_provider()]
    millis = int(timeout_seconds * 1000)
    threads = []
    for provider in providers:
        flush = getattr(provider, "force_flush", None)
        if flush is None:
            continue
        thread = threading.Thread(
            target=_flush_quietly, args=(flush, millis), name="max_otel-flush", daemon=True
        )
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout_seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def flush_before_exit(timeout_seconds: float = FLUSH_TIMEOUT_SECONDS) -> bool:
    """``flush_telemetry`` for a process about to end: each export is tried once."""
    abort_all_retries()
    return flush_telemetry(timeout_seconds)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    flush_before_exit()
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)


def flush_on_sigterm() -> bool:
    """Install the flushing SIGTERM handler if SIGTERM has its default action; return whether
    it was installed (never from a thread other than the main one)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, _on_sigterm)
    return True


def flush_after_uvicorn_shutdown() -> bool:
    """Make ``uvicorn.Server.shutdown`` end with ``flush_before_exit``; return whether it was
    patched (False without uvicorn, or when already patched). The flush runs after uvicorn
    has finished its requests, and never raises into uvicorn."""
    try:
        from uvicorn.server import Server
    except ImportError:
        return False
    original = Server.shutdown
    if getattr(original, "_max_otel_flushes", False):
        return False

    async def shutdown_then_flush(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            await original(self, *args, **kwargs)
        finally:
            try:
                flush_before_exit()
            except Exception:
                logger.exception("telemetry flush after uvicorn shutdown failed")

    shutdown_then_flush._max_otel_flushes = True  # type: ignore[attr-defined]
    Server.shutdown = shutdown_then_flush  # type: ignore[method-assign]
    return True
