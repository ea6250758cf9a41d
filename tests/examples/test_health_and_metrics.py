"""The sample service's health routes and metrics catalogue, through its real processes.

The API and the Celery worker run under ``opentelemetry-instrument`` with the max_otel distro,
exporting OTLP to the test receiver, on a real Redis and SQLite, with the CRM stand-in as
``MAX_INTEGRATION_URL`` and ``MAX_OTEL_DB_GAUGES=1``. The customers' conversations of
``max_service.traffic`` run once for the module; each test then looks for what a user would
look for in Prometheus: the catalogue's names, exactly the spec's labels, the spec's buckets,
from the process that should report them. Readiness against a Redis outage uses a Redis of
its own, stopped and started again on the same port.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from max_service_launch.local_servers import RedisServer
from max_service_launch.sample_service import SampleService

from max_otel.instrumentation.metrics import FIRST_RESPONSE_BUCKETS, METER_NAME
from max_service import service_metrics
from max_service.models import Conversation
from max_service.triage import TEAMS
from tests.support.crm_endpoint import CrmEndpoint
from tests.support.otlp_receiver import OtlpReceiver, ReceivedMetric, ReceivedPoint

API, WORKER = "core-api", "core-worker"
_TIMEOUT = 30.0

PointMatch = Callable[[ReceivedPoint], bool]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as otlp:
        yield otlp


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    receiver: OtlpReceiver,
    crm: CrmEndpoint,
) -> Iterator[SampleService]:
    with SampleService(
        tmp_path_factory.mktemp("health-and-metrics"),
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        distro="max_otel",
        env={"MAX_INTEGRATION_URL": crm.url, "MAX_OTEL_DB_GAUGES": "1"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def driven(service: SampleService) -> list[str]:
    """The conversation ids of one round of every customer (two are closed, one stays open)."""
    return service.drive_traffic(rounds=1)


def _matching(
    receiver: OtlpReceiver, name: str, service_name: str, match: PointMatch
) -> list[tuple[ReceivedMetric, ReceivedPoint]]:
    return [
        (metric, point)
        for metric in receiver.metrics()
        if metric.name == name and metric.service_name == service_name
        for point in metric.points
        if match(point)
    ]


def _wait_for_point(
    receiver: OtlpReceiver,
    name: str,
    service_name: str,
    match: PointMatch | dict[str, Any],
) -> tuple[ReceivedMetric, ReceivedPoint]:
    """The latest point of ``name`` exported by ``service_name`` that ``match`` accepts
    (a dict: exactly those attributes)."""
    accept = (lambda point: point.attributes == match) if isinstance(match, dict) else match
    found = receiver.wait_for(lambda: _matching(receiver, name, service_name, accept), _TIMEOUT)
    return found[-1]


def _attribute_sets(receiver: OtlpReceiver, name: str, service_name: str) -> list[dict[str, Any]]:
    return [point.attributes for _, point in _matching(receiver, name, service_name, bool)]


# --------------------------------------------------------------------------------- health


@pytest.mark.integration
def test_liveness_answers_200_with_a_utc_timestamp(service: SampleService) -> None:
    with service.client() as client:
        response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])


@pytest.mark.integration
def test_readiness_is_200_when_database_redis_and_broker_answer(service: SampleService) -> None:
    with service.client() as client:
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "healthy", "redis": "healthy", "celery": "healthy"},
    }


def _wait_for_readiness(client: httpx.Client, status_code: int, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/health/ready")
        if response.status_code == status_code or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.integration
def test_readiness_is_503_naming_redis_while_it_is_down_and_200_once_it_is_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A Redis of its own: stopping it fails readiness (liveness stays 200), restarting it on
    the same port makes the API ready again without a restart."""
    directory = tmp_path_factory.mktemp("redis-outage")
    with (
        RedisServer(directory / "redis") as redis,
        SampleService(
            directory / "service", redis_url=redis.url, instrumented=False, worker=False
        ) as service,
        service.client() as client,
    ):
        assert _wait_for_readiness(client, 200).status_code == 200
        redis.stop()
        down = _wait_for_readiness(client, 503)
        assert down.status_code == 503, down.text
        assert down.json()["status"] == "not_ready"
        assert down.json()["checks"]["redis"] == "unhealthy"
        assert down.json()["checks"]["database"] == "healthy"
        assert client.get("/health").status_code == 200
        redis.start()
        back = _wait_for_readiness(client, 200)
        assert back.status_code == 200, back.text
        assert back.json()["checks"] == {
            "database": "healthy",
            "redis": "healthy",
            "celery": "healthy",
        }


# -------------------------------------------------------------------------------- metrics


@pytest.mark.integration
def test_new_conversations_are_counted_by_channel_and_team(
    receiver: OtlpReceiver, driven: list[str]
) -> None:
    metric, _ = _wait_for_point(
        receiver,
        "conversations_total",
        API,
        lambda p: (
            p.attributes == {"channel": "whatsapp", "team": "unassigned"}
            and (p.value or 0) >= len(driven)
        ),
    )
    assert (metric.type, metric.scope) == ("sum", METER_NAME)
    assert _attribute_sets(receiver, "conversations_total", WORKER) == []


@pytest.mark.integration
def test_messages_are_counted_by_direction_channel_and_status_where_they_happen(
    receiver: OtlpReceiver, driven: list[str]
) -> None:
    """Inbound messages are counted by the API that stores them, replies by the worker that
    sends them."""
    _wait_for_point(
        receiver,
        "messages_total",
        API,
        {"direction": "inbound", "channel": "whatsapp", "status": "received"},
    )
    _wait_for_point(
        receiver,
        "messages_total",
        WORKER,
        {"direction": "outbound", "channel": "whatsapp", "status": "sent"},
    )
    agents = {str(agent) for team in TEAMS.values() for agent in team.agents}
    _, sent = _wait_for_point(receiver, "agent_messages_sent_total", WORKER, bool)
    assert set(sent.attributes) == {"agent_id"} and sent.attributes["agent_id"] in agents


@pytest.mark.integration
def test_first_response_time_has_the_team_label_and_the_spec_buckets(
    receiver: OtlpReceiver, driven: list[str]
) -> None:
    """One first reply per conversation, each under the team triage routed it to."""

    def teams_seen() -> set[str]:
        found = _matching(receiver, "first_response_time_seconds", API, bool)
        return {point.attributes["team"] for _, point in found}

    receiver.wait_for(lambda: teams_seen() == {"billing", "support", "sales"}, _TIMEOUT)
    metric, point = _wait_for_point(receiver, "first_response_time_seconds", API, bool)
    assert (metric.type, metric.unit) == ("histogram", "s")
    assert set(point.attributes) == {"team"}
    assert point.explicit_bounds == FIRST_RESPONSE_BUCKETS
    assert point.count and point.count >= 1


@pytest.mark.integration
def test_assignment_and_closing_record_queue_time_and_resolution_time(
    receiver: OtlpReceiver, driven: list[str]
) -> None:
    _, queued = _wait_for_point(receiver, "queue_time_seconds", WORKER, bool)
    assert set(queued.attributes) == {"team"} and queued.attributes["team"] in TEAMS
    _wait_for_point(
        receiver,
        "conversations_closed_total",
        API,
        lambda p: set(p.attributes) == {"channel", "team"} and p.attributes["team"] in TEAMS,
    )
    _, resolution = _wait_for_point(receiver, "resolution_time_seconds", API, bool)
    assert set(resolution.attributes) == {"team"}


@pytest.mark.integration
def test_crm_calls_are_counted_as_success_or_failed_with_their_latency(
    service: SampleService, receiver: OtlpReceiver, crm: CrmEndpoint, driven: list[str]
) -> None:
    call = {"adapter": "crm", "operation": "notify_assignment"}
    _wait_for_point(receiver, "integration_requests_total", WORKER, {**call, "status": "success"})
    _wait_for_point(receiver, "integration_latency_seconds", WORKER, call)
    crm.respond_with(503)
    try:
        response = service.post_webhook("+4915112345678", "Hallo, ich brauche Hilfe")
        [conversation_id] = response.json()["conversation_ids"]
        service.wait_until_assigned(str(conversation_id))
        _wait_for_point(
            receiver, "integration_requests_total", WORKER, {**call, "status": "failed"}
        )
    finally:
        crm.respond_with(200)


@pytest.mark.integration
def test_worker_tasks_and_sql_statements_are_timed(
    receiver: OtlpReceiver, driven: list[str]
) -> None:
    _wait_for_point(
        receiver,
        "celery_tasks_total",
        WORKER,
        {"task": "max_service.triage_conversation", "status": "succeeded"},
    )
    _wait_for_point(
        receiver,
        "celery_task_duration_seconds",
        WORKER,
        {"task": "max_service.send_message", "status": "succeeded"},
    )
    for process in (API, WORKER):
        _wait_for_point(receiver, "db_query_duration_seconds", process, {"operation": "SELECT"})


@pytest.mark.integration
def test_the_api_reports_its_dependencies_and_the_database_gauges(
    service: SampleService, receiver: OtlpReceiver, driven: list[str]
) -> None:
    """``dependency_up`` from the readiness checks; conversations, agents and the Celery
    backlog read from the database and the broker, by the API only (one reader)."""
    for dependency in ("database", "redis", "celery"):
        _, up = _wait_for_point(receiver, "dependency_up", API, {"dependency": dependency})
        assert up.value == 1
    # John's conversation is routed to support and never closed.
    _wait_for_point(
        receiver,
        "conversations_active",
        API,
        lambda p: p.attributes == {"team": "support", "status": "assigned"} and p.value == 1,
    )
    # No conversation waits now: the backlog is reported as 0, not left out.
    _wait_for_point(
        receiver,
        "conversations_active",
        API,
        lambda p: p.attributes == {"team": "unassigned", "status": "queued"} and p.value == 0,
    )
    _, busiest = _wait_for_point(
        receiver, "agent_active_conversations", API, lambda p: (p.value or 0) >= 1
    )
    support_agents = {str(agent) for agent in TEAMS["support"].agents}
    assert busiest.attributes["agent_id"] in support_agents
    _wait_for_point(receiver, "celery_queue_length", API, {"queue": service.celery_queue})
    for gauge in ("conversations_active", "agent_active_conversations", "celery_queue_length"):
        assert _attribute_sets(receiver, gauge, WORKER) == [], f"the worker reported {gauge}"


# --------------------------------------------------------------------- never breaks a request


@pytest.mark.unit
def test_recording_a_metric_never_raises_and_logs_the_first_failure_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A conversation not flushed yet has no ``created_at``: no FRT, no error, one log."""
    pending = Conversation(channel="whatsapp", team="sales")
    with caplog.at_level(logging.ERROR, logger="max_service.service_metrics"):
        service_metrics.first_response(pending, None, pending.created_at)
        service_metrics.first_response(pending, None, pending.created_at)
    failures = [r for r in caplog.records if r.getMessage() == "metrics.record_failed"]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
