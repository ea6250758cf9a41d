"""The Celery application of the worker (Redis is both broker and result backend).

Started the way Max runs it::

    PYTHONPATH=examples celery -A max_service.worker worker --pool=prefork --concurrency=2

Tasks live in :mod:`max_service.tasks`. The worker creates the tables at start (before it
forks) and each forked child drops the database connections it inherited. The audit trail
(when ``MAX_OTEL_AUDIT_DATABASE_URL`` is set) is checked at start, so a misconfiguration stops
the worker at once, and built again in each forked child, which writes the events. Each pool
process records its tasks in the metrics catalogue (``celery_tasks_total``,
``celery_task_duration_seconds``, ``celery_workers_busy``) and its CPU and memory; SQL
statements are timed by :mod:`max_service.db`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

from max_otel.instrumentation.metrics import observe_process
from max_service import audit_trail, db, service_metrics
from max_service.logs import configure_logging
from max_service.settings import Settings

_settings = Settings.from_environment()

celery_app = Celery(
    "max_service",
    broker=_settings.redis_url,
    backend=_settings.redis_url,
    include=["max_service.tasks"],
)
celery_app.conf.update(
    task_default_queue=_settings.celery_queue,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=1,
)

configure_logging(_settings.log_level, console=False)
audit_trail.configure()


@worker_init.connect
def _create_schema(**_kwargs: Any) -> None:
    db.create_schema()
    db.engine.dispose()
    # Only in the worker's main process (the API imports this module too); its pool
    # processes inherit the gauges, each reading its own CPU time and memory. Task metrics
    # start here for pools that do not fork (solo, threads) and again in each forked child.
    observe_process()
    service_metrics.time_tasks()


@worker_process_init.connect
def _forget_parent_connections(**_kwargs: Any) -> None:
    db.after_fork()
    audit_trail.configure()
    service_metrics.time_tasks()
