"""Celery signal handlers: flush a pool process's telemetry before it exits; keep our logging.

A prefork pool process ends with ``os._exit`` (after ``worker_max_tasks_per_child`` tasks, or
when the worker stops): ``atexit`` never runs there, so the spans and logs of its last tasks
would be lost in the batch processors' queues. ``worker_process_shutdown`` (and the main
process's ``worker_shutdown``) force-flush the tracer, logger and meter providers
(``exit_flush.flush_before_exit``: bounded, one attempt per export, so a collector that is
down cannot hold a process that is stopping).

With JSON logs on stdout, a ``setup_logging`` receiver tells Celery not to replace the root
logger's handlers (it would remove the JSON and OTLP handlers); the worker's ``--loglevel``
still sets the root level unless ``MAX_OTEL_LOG_LEVEL`` is set::

    connect_celery_signals(json_logs=True)
"""

from __future__ import annotations

import logging
import os
from typing import Any

from max_otel.instrumentation.environment_variables import MAX_OTEL_LOG_LEVEL
from max_otel.instrumentation.exit_flush import flush_before_exit
from max_otel.instrumentation.log_setup import level_number

logger = logging.getLogger(__name__)

_connected: set[str] = set()


def _flush_on_exit(**_kwargs: Any) -> None:
    if not flush_before_exit():
        logger.warning("max_otel: telemetry flush timed out; the last spans may be lost")


def _keep_logging(loglevel: object = None, **_kwargs: Any) -> None:
    if os.environ.get(MAX_OTEL_LOG_LEVEL):
        return
    level = loglevel if isinstance(loglevel, int) else None
    if isinstance(loglevel, str):
        level = level_number(loglevel)
    if level is not None:
        logging.getLogger().setLevel(level)


def connect_celery_signals(json_logs: bool) -> list[str]:
    """Connect the receivers (idempotent); return the names of the signals connected now."""
    try:
        from celery import signals
    except ImportError:
        return []
    wanted = {
        "worker_process_shutdown": (signals.worker_process_shutdown, _flush_on_exit),
        "worker_shutdown": (signals.worker_shutdown, _flush_on_exit),
    }
    if json_logs:
        wanted["setup_logging"] = (signals.setup_logging, _keep_logging)
    connected = []
    for name, (signal, receiver) in wanted.items():
        if name in _connected:
            continue
        signal.connect(receiver, weak=False)
        _connected.add(name)
        connected.append(name)
    return connected
