"""/health and /health/ready against real PostgreSQL, Redis and a Redis Celery broker that
are stopped and started again."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis
from celery import Celery
from fastapi import FastAPI
from fastapi.testclient import TestClient
from max_service_launch.local_servers import PostgresServer, RedisServer
from sqlalchemy import create_engine

from max_otel.instrumentation.health import (
    HealthCheck,
    Readiness,
    celery_broker_probe,
    database_probe,
    health_router,
    redis_probe,
)


def _app(readiness: Readiness) -> FastAPI:
    app = FastAPI()
    app.include_router(health_router(readiness))
    return app


@pytest.mark.unit
def test_liveness_is_healthy_with_a_utc_timestamp() -> None:
    clock = lambda: datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)  # noqa: E731
    app = FastAPI()
    app.include_router(health_router(Readiness([]), clock=clock))
    response = TestClient(app).get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "timestamp": "2026-01-05T12:00:00Z"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[PostgresServer, RedisServer, Readiness]]:
    """Own PostgreSQL and Redis (this test stops them), with the three real probes."""
    with PostgresServer(tmp_path / "pg") as postgres, RedisServer(tmp_path / "redis") as red:
        engine = create_engine(
            postgres.url, pool_pre_ping=True, connect_args={"connect_timeout": 2}
        )
        client = redis.Redis.from_url(red.url, socket_timeout=1, socket_connect_timeout=1)
        celery_app = Celery("health-test", broker=red.url)
        readiness = Readiness(
            [
                HealthCheck("database", database_probe(engine), timeout_seconds=3),
                HealthCheck("redis", redis_probe(client), timeout_seconds=2),
                HealthCheck("celery", celery_broker_probe(celery_app), timeout_seconds=3),
            ]
        )
        try:
            yield postgres, red, readiness
        finally:
            readiness.close()
            engine.dispose()


@pytest.mark.integration
def test_ready_when_every_dependency_is_up(stack) -> None:
    _, _, readiness = stack
    response = TestClient(_app(readiness)).get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "healthy", "redis": "healthy", "celery": "healthy"},
    }


@pytest.mark.integration
def test_redis_stopped_makes_redis_and_celery_unhealthy_until_it_starts(stack) -> None:
    _, red, readiness = stack
    client = TestClient(_app(readiness))
    red.stop()
    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "not_ready",
        "checks": {"database": "healthy", "redis": "unhealthy", "celery": "unhealthy"},
    }
    assert client.get("/health").status_code == 200  # liveness does not depend on Redis

    red.start()
    assert client.get("/health/ready").status_code == 200


@pytest.mark.integration
def test_database_stopped_gives_503_until_it_starts(stack) -> None:
    postgres, _, readiness = stack
    client = TestClient(_app(readiness))
    postgres.stop()
    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "unhealthy",
        "redis": "healthy",
        "celery": "healthy",
    }

    postgres.start()
    response = client.get("/health/ready")
    assert (response.status_code, response.json()["status"]) == (200, "ready")


class HangingProbe:
    """A probe that blocks until released, counting how often it was started."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.starts = 0

    def __call__(self) -> None:
        self.starts += 1
        self.release.wait(30)


@pytest.mark.unit
def test_hanging_check_times_out_alone_and_never_blocks_the_event_loop() -> None:
    hanging = HangingProbe()
    readiness = Readiness(
        [
            HealthCheck("database", hanging, timeout_seconds=0.3),
            HealthCheck("redis", lambda: True, timeout_seconds=0.3),
        ]
    )
    app = _app(readiness)

    async def probe_both() -> tuple[httpx.Response, httpx.Response, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ready_task = asyncio.create_task(client.get("/health/ready"))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            live = await client.get("/health")  # served while the readiness check waits
            live_latency = time.monotonic() - started
            return await ready_task, live, live_latency

    try:
        ready, live, live_latency = asyncio.run(probe_both())
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "unhealthy", "redis": "healthy"}
        assert live.status_code == 200
        assert live_latency < 0.25  # answered before the 0.3 s readiness timeout expired

        # The hung probe is still running: a second readiness run does not start another.
        assert TestClient(app).get("/health/ready").status_code == 503
        assert hanging.starts == 1
    finally:
        hanging.release.set()
        readiness.close()


@pytest.mark.unit
def test_probe_returning_false_is_unhealthy_and_raising_is_unhealthy() -> None:
    def broken() -> None:
        raise ConnectionError("refused")

    readiness = Readiness(
        [HealthCheck("a", lambda: False), HealthCheck("b", broken), HealthCheck("c", lambda: None)]
    )
    try:
        report = readiness.check_blocking()
    finally:
        readiness.close()
    assert report.as_json() == {
        "status": "not_ready",
        "checks": {"a": "unhealthy", "b": "unhealthy", "c": "healthy"},
    }


@pytest.mark.unit
def test_invalid_checks_are_rejected_with_the_setting_named() -> None:
    with pytest.raises(ValueError, match="timeout_seconds of check 'db' must be positive; got 0"):
        HealthCheck("db", lambda: None, timeout_seconds=0)
    with pytest.raises(ValueError, match="check names must be unique"):
        Readiness([HealthCheck("db", lambda: None), HealthCheck("db", lambda: None)])
