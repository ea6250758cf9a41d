"""Celery task run time, outcomes and busy workers, from Celery's task signals::

    from max_otel.instrumentation.metrics import MaxMetrics, record_task_metrics
    record_task_metrics(MaxMetrics())     # once per worker process, e.g. in worker_process_init

Records ``celery_tasks_total{task,status}`` and ``celery_task_duration_seconds{task,status}``
(status ``succeeded``, ``failed`` or ``retried``) and ``celery_workers_busy`` (tasks running
now in this process; utilisation is busy / concurrency). Queue length is read from the broker
by :class:`DatabaseGaugeCollector` (``celery_queue_length``). Handlers never raise.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import signals

from max_otel.instrumentation.metrics._recorder import MaxMetrics, TaskStatus

logger = logging.getLogger(__name__)

_STATUS_BY_STATE: dict[str, TaskStatus] = {
    "SUCCESS": "succeeded",
    "FAILURE": "failed",
    "RETRY": "retried",
}
_DISPATCH_UID = "max_otel.metrics.celery"


class _TaskTimer:
    """Start times of running tasks by id; handlers for task_prerun and task_postrun."""

    def __init__(self, recorder: MaxMetrics) -> None:
        self._recorder = recorder
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def prerun(self, task_id: str | None = None, **_kwargs: Any) -> None:
        try:
            with self._lock:
                self._started[str(task_id)] = time.perf_counter()
            self._recorder.task_started()
        except Exception:
            logger.debug("max-otel: task_prerun handler failed", exc_info=True)

    def postrun(
        self, task_id: str | None = None, task: Any = None, state: str | None = None, **_kwargs: Any
    ) -> None:
        try:
            with self._lock:
                started = self._started.pop(str(task_id), None)
            status = _STATUS_BY_STATE.get(state or "", "failed")
            seconds = None if started is None else time.perf_counter() - started
            name = getattr(task, "name", None) or "unknown"
            self._recorder.task_finished(task=name, status=status, seconds=seconds)
            if started is not None:
                self._recorder.task_released()
        except Exception:
            logger.debug("max-otel: task_postrun handler failed", exc_info=True)


def record_task_metrics(recorder: MaxMetrics) -> None:
    """Connect the task signal handlers; calling it again replaces the earlier ones."""
    stop_recording_task_metrics()
    timer = _TaskTimer(recorder)
    signals.task_prerun.connect(timer.prerun, weak=False, dispatch_uid=_DISPATCH_UID)
    signals.task_postrun.connect(timer.postrun, weak=False, dispatch_uid=_DISPATCH_UID)


def stop_recording_task_metrics() -> None:
    """Disconnect the handlers :func:`record_task_metrics` connected."""
    signals.task_prerun.disconnect(dispatch_uid=_DISPATCH_UID)
    signals.task_postrun.disconnect(dispatch_uid=_DISPATCH_UID)
