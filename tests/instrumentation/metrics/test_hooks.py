"""SQL statement timing on a real PostgreSQL, Celery task outcomes, process gauges."""

from __future__ import annotations

import pytest
from celery import Celery
from sqlalchemy import create_engine, text

from max_otel.instrumentation.metrics import (
    MaxMetrics,
    observe_process,
    record_query_metrics,
    record_task_metrics,
    statement_operation,
    stop_recording_task_metrics,
)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("SELECT 1", "SELECT"),
        ("  (select * from t)", "SELECT"),
        ("insert into t values ('+447700900123')", "INSERT"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("frobnicate secret", "OTHER"),
        ("", "OTHER"),
    ],
)
def test_operation_label_is_the_first_keyword_or_other(statement: str, operation: str) -> None:
    assert statement_operation(statement) == operation


@pytest.mark.integration
def test_slow_statement_on_postgresql_counts_as_slow_query(provider, postgres_server) -> None:
    meter_provider, collected = provider
    engine = create_engine(postgres_server.url)
    try:
        record_query_metrics(
            engine, MaxMetrics(meter_provider.get_meter("t"), slow_query_seconds=0.3)
        )
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.execute(text("SELECT pg_sleep(0.35)"))
    finally:
        engine.dispose()

    assert collected.values("db_slow_queries_total") == {(("operation", "SELECT"),): 1}
    durations = collected.values("db_query_duration_seconds")[(("operation", "SELECT"),)]
    assert durations.count >= 2
    assert durations.sum >= 0.35


@pytest.mark.unit
def test_celery_task_outcomes_and_busy_workers(provider) -> None:
    meter_provider, collected = provider
    app = Celery("metrics-test")
    app.conf.task_always_eager = True

    @app.task(name="triage")
    def triage(fail: bool) -> str:
        if fail:
            raise RuntimeError("no team")
        return "ok"

    record_task_metrics(MaxMetrics(meter_provider.get_meter("t")))
    try:
        triage.delay(False)
        triage.delay(True)
    finally:
        stop_recording_task_metrics()
    triage.delay(False)  # after stopping: not counted

    assert collected.values("celery_tasks_total") == {
        (("status", "succeeded"), ("task", "triage")): 1,
        (("status", "failed"), ("task", "triage")): 1,
    }
    assert collected.values("celery_workers_busy") == {(): 0}
    durations = collected.values("celery_task_duration_seconds")
    assert durations[(("status", "succeeded"), ("task", "triage"))].count == 1


@pytest.mark.unit
def test_process_cpu_and_memory_are_reported(provider) -> None:
    meter_provider, collected = provider
    observe_process(meter_provider.get_meter("t"))
    sum(range(200_000))

    assert collected.values("process_cpu_seconds_total")[()] > 0
    assert collected.values("process_resident_memory_bytes")[()] > 10 * 1024 * 1024
