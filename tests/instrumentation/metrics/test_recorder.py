"""The typed recording API writes the catalogue's names, labels and buckets."""

from __future__ import annotations

import logging

import pytest

from max_otel.instrumentation.metrics import FIRST_RESPONSE_BUCKETS, MaxMetrics

pytestmark = pytest.mark.unit


def test_conversation_created_counts_by_channel_and_team(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.conversation_created(channel="whatsapp", team="sales")
    metrics.conversation_created(channel="whatsapp", team="sales")
    metrics.conversation_created(channel="email", team="support")

    assert collected.values("conversations_total") == {
        (("channel", "whatsapp"), ("team", "sales")): 2,
        (("channel", "email"), ("team", "support")): 1,
    }


def test_first_response_histogram_has_the_spec_buckets(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.first_response(team="sales", seconds=120.5)
    metrics.first_response(team="sales", seconds=700)

    (point,) = collected.values("first_response_time_seconds").values()
    assert (
        tuple(point.explicit_bounds)
        == FIRST_RESPONSE_BUCKETS
        == (
            30,
            60,
            120,
            300,
            600,
            1800,
            3600,
        )
    )
    # 120.5 falls in (120, 300], 700 in (600, 1800].
    assert list(point.bucket_counts) == [0, 0, 0, 1, 0, 1, 0, 0]
    assert point.sum == pytest.approx(820.5)


def test_first_response_with_agent_records_sum_and_count_per_agent(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.first_response(team="sales", seconds=60, agent_id="a-1")
    metrics.first_response(team="sales", seconds=120, agent_id="a-1")

    point = collected.values("agent_first_response_time_seconds")[(("agent_id", "a-1"),)]
    assert (point.count, point.sum, tuple(point.explicit_bounds)) == (2, 180, ())


def test_failed_integration_request_has_status_failed_and_latency(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.integration_request(adapter="crm", operation="upsert", succeeded=False, seconds=2.0)
    metrics.integration_request(adapter="crm", operation="upsert", succeeded=True, seconds=0.1)

    assert collected.values("integration_requests_total") == {
        (("adapter", "crm"), ("operation", "upsert"), ("status", "failed")): 1,
        (("adapter", "crm"), ("operation", "upsert"), ("status", "success")): 1,
    }
    latency = collected.values("integration_latency_seconds")
    assert latency[(("adapter", "crm"), ("operation", "upsert"))].count == 2


def test_outbound_sent_message_counts_for_its_agent_only(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.message(direction="inbound", channel="whatsapp", status="received", agent_id="a-1")
    metrics.message(direction="outbound", channel="whatsapp", status="sent", agent_id="a-1")

    assert collected.values("messages_total") == {
        (("channel", "whatsapp"), ("direction", "inbound"), ("status", "received")): 1,
        (("channel", "whatsapp"), ("direction", "outbound"), ("status", "sent")): 1,
    }
    assert collected.values("agent_messages_sent_total") == {(("agent_id", "a-1"),): 1}


def test_circuit_breaker_state_is_the_last_state_set(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.circuit_breaker_state(adapter="crm", state="open")
    metrics.circuit_breaker_state(adapter="crm", state="half_open")

    assert collected.values("integration_circuit_breaker_state") == {(("adapter", "crm"),): 1}


def test_query_at_the_threshold_counts_as_slow(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"), slow_query_seconds=1.0)
    metrics.db_query(operation="SELECT", seconds=0.2)
    metrics.db_query(operation="SELECT", seconds=1.0)

    assert collected.values("db_slow_queries_total") == {(("operation", "SELECT"),): 1}
    assert collected.values("db_query_duration_seconds")[(("operation", "SELECT"),)].count == 2


def test_websocket_connections_go_up_and_down_and_reconnects_count(provider) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    metrics.websocket_connected()
    metrics.websocket_connected(resumed=True)
    metrics.websocket_disconnected()
    metrics.websocket_message(direction="outbound")
    metrics.websocket_error(reason="handshake_refused")

    assert collected.values("websocket_connections_active") == {(): 1}
    assert collected.values("websocket_reconnections_total") == {(): 1}
    assert collected.values("websocket_messages_total") == {(("direction", "outbound"),): 1}
    assert collected.values("websocket_errors_total") == {(("reason", "handshake_refused"),): 1}


def test_bad_argument_is_logged_once_and_never_raises(provider, caplog) -> None:
    meter_provider, collected = provider
    metrics = MaxMetrics(meter_provider.get_meter("test"))
    with caplog.at_level(logging.ERROR, logger="max_otel.instrumentation.metrics"):
        metrics.circuit_breaker_state(adapter="crm", state="exploded")  # type: ignore[arg-type]
        metrics.circuit_breaker_state(adapter="crm", state="exploded")  # type: ignore[arg-type]

    assert "integration_circuit_breaker_state" not in collected.points()
    failures = [r for r in caplog.records if "circuit_breaker_state failed" in r.getMessage()]
    assert len(failures) == 1
