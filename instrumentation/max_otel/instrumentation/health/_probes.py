"""Probes for the dependencies of a Max service: PostgreSQL, Redis, the Celery broker.

Each factory returns a blocking :data:`Probe` for :class:`HealthCheck`::

    HealthCheck("database", database_probe(engine))
    HealthCheck("redis", redis_probe(redis.Redis.from_url(url, socket_timeout=1)))
    HealthCheck("celery", celery_broker_probe(celery_app))

Why the Celery check is the broker by default: readiness answers "can THIS process do its
job now", and what an API process needs from Celery is to enqueue tasks, i.e. a broker
connection. It costs one connection and no round trip to workers. Whether workers consume
is a different question, answered by ``celery_queue_length`` and the ``QueueBacklog``-style
alerts; taking every API replica out of the load balancer because workers are down would turn
a slow queue into a full outage. :func:`celery_workers_probe` is there for a worker-facing
service that does want "at least one worker answers a ping" (it waits up to its timeout).
"""

from __future__ import annotations

from typing import Any

from max_otel.instrumentation.health._checks import Probe


def database_probe(engine: Any) -> Probe:
    """``SELECT 1`` on a connection from a SQLAlchemy ``Engine`` (or an ``AsyncEngine``'s
    ``sync_engine``); give the engine a connect timeout (``connect_args``) too."""
    sync_engine = getattr(engine, "sync_engine", engine)

    def probe() -> None:
        with sync_engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    return probe


def redis_probe(client: Any) -> Probe:
    """``PING`` on a synchronous ``redis.Redis`` client."""

    def probe() -> bool:
        return bool(client.ping())

    return probe


def celery_broker_probe(app: Any, timeout_seconds: float = 2.0) -> Probe:
    """Open (and release) a connection to the Celery app's broker, with no retry."""

    def probe() -> None:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout_seconds)

    return probe


def celery_workers_probe(app: Any, timeout_seconds: float = 1.0) -> Probe:
    """At least one worker answers a broadcast ping within ``timeout_seconds``."""

    def probe() -> bool:
        return bool(app.control.ping(timeout=timeout_seconds, limit=1))

    return probe
