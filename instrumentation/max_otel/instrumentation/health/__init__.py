"""Health checks for Max services: liveness and readiness routes, dependency probes.

::

    from max_otel.instrumentation.health import (
        HealthCheck, Readiness, database_probe, health_router, redis_probe,
    )

    readiness = Readiness([
        HealthCheck("database", database_probe(engine), timeout_seconds=2),
        HealthCheck("redis", redis_probe(redis_client), timeout_seconds=1),
    ])
    app.include_router(health_router(readiness))

See ``docs/metrics.md`` (Health checks) for the collector's and the processor's health.
"""

from __future__ import annotations

from max_otel.instrumentation.health._checks import (
    HealthCheck,
    Probe,
    Readiness,
    ReadinessReport,
)
from max_otel.instrumentation.health._probes import (
    celery_broker_probe,
    celery_workers_probe,
    database_probe,
    redis_probe,
)
from max_otel.instrumentation.health._router import health_router

__all__ = [
    "HealthCheck",
    "Probe",
    "Readiness",
    "ReadinessReport",
    "celery_broker_probe",
    "celery_workers_probe",
    "database_probe",
    "health_router",
    "redis_probe",
]
