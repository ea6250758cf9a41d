"""dependency_up follows a real PostgreSQL going down and up, with no one probing."""

from __future__ import annotations

import pytest
from max_service_launch.local_servers import PostgresServer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sqlalchemy import create_engine

from max_otel.instrumentation.health import HealthCheck, Readiness, database_probe
from max_otel.instrumentation.metrics import observe_dependencies
from tests.instrumentation.metrics.conftest import Collected


@pytest.mark.integration
def test_dependency_up_is_zero_while_the_database_is_down(tmp_path) -> None:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    collected = Collected(reader)
    with PostgresServer(tmp_path / "pg") as postgres:
        engine = create_engine(postgres.url, connect_args={"connect_timeout": 2})
        readiness = Readiness([HealthCheck("database", database_probe(engine), 3)])
        observe_dependencies(
            lambda: readiness.results_for_metrics(max_age_seconds=0),
            meter_provider.get_meter("t"),
        )
        try:
            assert collected.values("dependency_up") == {(("dependency", "database"),): 1}
            postgres.stop()
            assert collected.values("dependency_up") == {(("dependency", "database"),): 0}
            postgres.start()
            assert collected.values("dependency_up") == {(("dependency", "database"),): 1}
        finally:
            readiness.close()
            engine.dispose()
            meter_provider.shutdown()


@pytest.mark.unit
def test_recent_readiness_results_are_reused() -> None:
    calls = []
    readiness = Readiness([HealthCheck("redis", lambda: calls.append(1))])
    try:
        readiness.check_blocking()
        assert readiness.results_for_metrics(max_age_seconds=60) == {"redis": True}
        assert len(calls) == 1
        assert readiness.results_for_metrics(max_age_seconds=0) == {"redis": True}
        assert len(calls) == 2
    finally:
        readiness.close()


@pytest.mark.unit
def test_a_collection_after_close_reports_the_last_results_without_an_error() -> None:
    """The final metric collection at exit runs after the probe pool is closed."""
    readiness = Readiness([HealthCheck("redis", lambda: None)])
    readiness.check_blocking()
    readiness.close()
    assert readiness.results_for_metrics(max_age_seconds=0) == {"redis": True}
