"""Database-backed gauges: one query, cached, only in the elected process."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sqlalchemy import create_engine, text

from max_otel.instrumentation.metrics import DatabaseGaugeCollector, environment_switch, sql_rows
from tests.instrumentation.metrics.conftest import Collected


class CountingQuery:
    def __init__(self, rows: list[tuple[object, ...]]) -> None:
        self.rows = rows
        self.calls = 0
        self.fail = False

    def __call__(self) -> list[tuple[object, ...]]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("database is down")
        return self.rows


@pytest.mark.unit
def test_enabled_collector_reports_rows_as_labelled_values(provider) -> None:
    meter_provider, collected = provider
    query = CountingQuery([("sales", "queued", 12), ("sales", "assigned", 3)])
    DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True).observe(
        "conversations_active", query
    )

    assert collected.values("conversations_active") == {
        (("status", "queued"), ("team", "sales")): 12,
        (("status", "assigned"), ("team", "sales")): 3,
    }


@pytest.mark.unit
def test_disabled_collector_reports_nothing_and_never_queries(provider) -> None:
    meter_provider, collected = provider
    query = CountingQuery([("sales", "queued", 12)])
    collector = DatabaseGaugeCollector(meter_provider.get_meter("t"), env={})
    collector.observe("conversations_active", query)

    assert "conversations_active" not in collected.points()
    assert query.calls == 0


@pytest.mark.unit
def test_environment_switch_enables_the_collector(provider) -> None:
    meter_provider, collected = provider
    collector = DatabaseGaugeCollector(
        meter_provider.get_meter("t"), env={"MAX_OTEL_DB_GAUGES": "1"}
    )
    collector.observe("agent_active_conversations", CountingQuery([("agent-1", 9)]))

    assert collected.values("agent_active_conversations") == {(("agent_id", "agent-1"),): 9}


@pytest.mark.unit
def test_result_is_reused_within_the_ttl(provider) -> None:
    meter_provider, collected = provider
    query = CountingQuery([("max", 4)])
    collector = DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True, ttl_seconds=60)
    collector.observe("celery_queue_length", query)

    collected.points()
    collected.points()
    assert query.calls == 1


@pytest.mark.unit
def test_failing_query_reports_no_value_then_recovers(provider, caplog) -> None:
    meter_provider, collected = provider
    query = CountingQuery([("sales", "queued", 5)])
    query.fail = True
    collector = DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True, ttl_seconds=0)
    collector.observe("conversations_active", query)

    with caplog.at_level(logging.WARNING):
        assert "conversations_active" not in collected.points()
        assert "conversations_active" not in collected.points()
    assert len([r for r in caplog.records if "conversations_active failed" in r.getMessage()]) == 1

    query.fail = False
    assert collected.values("conversations_active") == {
        (("status", "queued"), ("team", "sales")): 5
    }


@pytest.mark.unit
def test_null_label_becomes_unassigned_and_malformed_rows_are_skipped(provider) -> None:
    meter_provider, collected = provider
    query = CountingQuery([(None, "queued", 7), ("sales", 3)])
    DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True).observe(
        "conversations_active", query
    )

    assert collected.values("conversations_active") == {
        (("status", "queued"), ("team", "unassigned")): 7
    }


@pytest.mark.unit
def test_only_database_backed_gauges_can_be_observed(provider) -> None:
    meter_provider, _ = provider
    collector = DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True)
    with pytest.raises(ValueError, match="name must be a database-backed gauge of the catalogue"):
        collector.observe("conversations_total", CountingQuery([]))
    with pytest.raises(KeyError, match="not in the max-otel metrics catalogue"):
        collector.observe("conversation_count", CountingQuery([]))


@pytest.mark.unit
def test_bad_ttl_in_the_environment_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="MAX_OTEL_DB_GAUGES_TTL must be a number of seconds; got 'soon'"
    ):
        DatabaseGaugeCollector(env={"MAX_OTEL_DB_GAUGES_TTL": "soon"})


@pytest.mark.integration
def test_sql_rows_counts_conversations_in_postgresql(postgres_server) -> None:
    engine = create_engine(postgres_server.url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS gauge_conversations"))
        connection.execute(
            text("CREATE TABLE gauge_conversations (team text, status text NOT NULL)")
        )
        connection.execute(
            text(
                "INSERT INTO gauge_conversations VALUES "
                "('sales','queued'),('sales','queued'),('sales','assigned'),"
                "('support','closed'),(NULL,'queued')"
            )
        )
    query = sql_rows(
        engine,
        "SELECT team, status, count(*) FROM gauge_conversations"
        " WHERE status <> :closed GROUP BY 1, 2",
        {"closed": "closed"},
    )
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    try:
        DatabaseGaugeCollector(meter_provider.get_meter("t"), enabled=True).observe(
            "conversations_active", query
        )
        assert Collected(reader).values("conversations_active") == {
            (("status", "queued"), ("team", "sales")): 2,
            (("status", "assigned"), ("team", "sales")): 1,
            (("status", "queued"), ("team", "unassigned")): 1,
        }
    finally:
        meter_provider.shutdown()
        engine.dispose()


@pytest.mark.integration
def test_of_two_replicas_only_the_elected_one_reports(postgres_server) -> None:
    """Two processes' providers on one database: exactly one series per team and status."""
    engine = create_engine(postgres_server.url)
    query = sql_rows(engine, "SELECT 'sales', 'queued', 21")
    readers = []
    providers = []
    try:
        for env in ({"MAX_OTEL_DB_GAUGES": "1"}, {"MAX_OTEL_DB_GAUGES": "0"}):
            reader = InMemoryMetricReader()
            meter_provider = MeterProvider(metric_readers=[reader])
            DatabaseGaugeCollector(meter_provider.get_meter("t"), env=env).observe(
                "conversations_active", query
            )
            readers.append(reader)
            providers.append(meter_provider)
        reported = [Collected(reader).values("conversations_active") for reader in readers]
        assert reported == [{(("status", "queued"), ("team", "sales")): 21}, {}]
    finally:
        for meter_provider in providers:
            meter_provider.shutdown()
        engine.dispose()


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), (" ON ", True), ("0", False), ("", False), ("no", False)],
)
def test_environment_switch_values(value: str, expected: bool) -> None:
    assert environment_switch({"MAX_OTEL_DB_GAUGES": value}) is expected
