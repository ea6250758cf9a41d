"""FastAPI routes ``GET /health`` (liveness) and ``GET /health/ready`` (readiness).

``/health`` answers 200 ``{"status": "healthy", "timestamp": "2026-01-05T12:00:00Z"}`` as
long as the process serves requests; it checks nothing else, so a load balancer or an
orchestrator never restarts a process because a dependency is down. ``/health/ready`` runs
the :class:`Readiness` checks and answers 200 ``{"status": "ready", "checks": {...}}`` or 503
``{"status": "not_ready", ...}`` when any check fails::

    app.include_router(health_router(readiness))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from max_otel.instrumentation.health._checks import Readiness


def _utc_now() -> datetime:
    return datetime.now(UTC)


def health_router(readiness: Readiness, *, clock: Callable[[], datetime] = _utc_now) -> APIRouter:
    """An ``APIRouter`` with the two health routes, checking ``readiness``."""
    router = APIRouter(tags=["health"])

    @router.get("/health")
    async def liveness() -> dict[str, str]:
        timestamp = clock().astimezone(UTC).replace(microsecond=0)
        return {"status": "healthy", "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")}

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        report = await readiness.check()
        return JSONResponse(report.as_json(), status_code=200 if report.ready else 503)

    return router
