"""The API's health routes and ``dependency_up``: is the database, Redis, the broker usable?

``GET /health`` (liveness) answers 200 while the process serves requests; ``GET /health/ready``
(readiness) answers 200 when the three checks below pass and 503 naming the failing ones
(``docs/metrics.md``, Health checks)::

    readiness = build_readiness(db.engine, settings.redis_url, celery_app)
    app.include_router(health_router(readiness))
    observe_dependencies(readiness.results_for_metrics)     # dependency_up{dependency}

Checks: ``database`` (``SELECT 1`` on the service's engine, 2 s), ``redis`` (``PING`` on a
client of its own with 1 s socket timeouts, so a hung Redis costs one probe thread for a
second, 1 s) and ``celery`` (a connection to the broker, 2 s). Celery's check is the broker,
not the workers: what the API needs from Celery is to enqueue; a stopped worker shows in
``celery_queue_length``, not by taking the API out of the load balancer.
"""

from __future__ import annotations

from typing import Any

import redis

from max_otel.instrumentation.health import (
    HealthCheck,
    Readiness,
    celery_broker_probe,
    database_probe,
    redis_probe,
)

_DATABASE_TIMEOUT_SECONDS = 2.0
_REDIS_TIMEOUT_SECONDS = 1.0
_BROKER_TIMEOUT_SECONDS = 2.0


def build_readiness(engine: Any, redis_url: str, celery_app: Any) -> Readiness:
    """The readiness checks of the API: ``database``, ``redis`` and ``celery`` (broker)."""
    probe_client = redis.Redis.from_url(
        redis_url,
        socket_timeout=_REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
    )
    return Readiness(
        [
            HealthCheck(
                "database", database_probe(engine), timeout_seconds=_DATABASE_TIMEOUT_SECONDS
            ),
            HealthCheck("redis", redis_probe(probe_client), timeout_seconds=_REDIS_TIMEOUT_SECONDS),
            HealthCheck(
                "celery",
                celery_broker_probe(celery_app, timeout_seconds=_BROKER_TIMEOUT_SECONDS),
                timeout_seconds=_BROKER_TIMEOUT_SECONDS,
            ),
        ]
    )
