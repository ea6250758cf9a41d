"""The sample Max service run as users run it, under ``opentelemetry-instrument`` with the
max_otel distro: the API (uvicorn) and a Celery prefork worker in separate processes, real
Redis and PostgreSQL, OTLP/gRPC export to a test receiver.

What a user checks: one trace per request from the HTTP server span to the worker's last
database call, ``conversation_id`` on every span of it however the id arrived (path
parameter, ``X-Conversation-ID``, ``baggage``), logs correlated and redacted on stdout and
over OTLP, bad input dropped quietly, a collector that is down costing nothing but telemetry,
bad settings named once, and the last spans of exiting processes delivered.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from max_service_launch.local_servers import PostgresServer, RedisServer, free_port
from max_service_launch.sample_service import TEST_PSEUDONYM_KEY, SampleService, postgres_database

from max_otel.processors.redaction import PseudonymKey
from tests.support.otlp_receiver import OtlpReceiver, ReceivedLogRecord, ReceivedSpan

pytestmark = pytest.mark.e2e

PHONE = "+5511987654321"
CARD = "4111 1111 1111 1111"
PHONE_PSEUDONYM = PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1").pseudonymise("phone", PHONE)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
    receiver: OtlpReceiver,
) -> Iterator[SampleService]:
    with (
        postgres_database(postgres_server.url) as database_url,
        SampleService(
            tmp_path_factory.mktemp("instrumented"),
            redis_url=redis_server.url,
            database_url=database_url,
            otlp_endpoint=receiver.endpoint,
        ) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def conversation_id(service: SampleService) -> str:
    """A conversation the worker has assigned (created by a webhook with PII in it)."""
    response = service.post_webhook(PHONE, f"my card is {CARD}, call me", "Ana Souza")
    [created] = response.json()["conversation_ids"]
    service.wait_until_assigned(created)
    return str(created)


def trace_with(
    receiver: OtlpReceiver, *conditions: Callable[[ReceivedSpan], bool], settle: float = 1.0
) -> list[ReceivedSpan]:
    """The spans of the trace that has a span matching each condition, once complete."""

    def find() -> list[ReceivedSpan] | None:
        for spans in receiver.traces().values():
            if all(any(condition(span) for span in spans) for condition in conditions):
                return spans
        return None

    found = receiver.wait_for(find, timeout=20)
    assert found
    time.sleep(settle)  # the batch processors' last spans of the same trace
    return receiver.traces()[found[0].trace_id]


def named(service_name: str, name: str) -> Callable[[ReceivedSpan], bool]:
    return lambda span: span.service_name == service_name and span.name == name


def is_db(span: ReceivedSpan) -> bool:
    return "sqlalchemy" in span.scope


def test_one_trace_from_the_request_to_the_workers_last_db_call_carries_the_id(
    service: SampleService, receiver: OtlpReceiver, conversation_id: str
) -> None:
    with service.client() as client:
        reply = client.post(f"/conversations/{conversation_id}/messages", json={"text": "hi"})
    assert reply.status_code == 202
    spans = trace_with(
        receiver,
        named("core-api", "POST /conversations/{conversation_id}/messages"),
        named("core-worker", "run/max_service.send_message"),
        lambda span: span.service_name == "core-worker" and is_db(span),
    )
    assert {span.service_name for span in spans} == {"core-api", "core-worker"}
    kinds = {(span.service_name, span.kind) for span in spans}
    assert {("core-api", "SERVER"), ("core-api", "PRODUCER"), ("core-worker", "CONSUMER")} <= kinds
    worker_db = [span for span in spans if span.service_name == "core-worker" and is_db(span)]
    assert {span.name.split()[0] for span in worker_db} >= {"SELECT", "UPDATE"}
    assert any(s.service_name == "core-worker" and "redis" in s.scope for s in spans)
    assert any(s.service_name == "core-api" and is_db(s) for s in spans)
    assert not [s.name for s in spans if s.name.endswith(("http send", "http receive"))]
    missing = [
        span.name for span in spans if span.attributes.get("conversation_id") != conversation_id
    ]
    assert missing == []
    instances = {span.service_name: span.resource["service.instance.id"] for span in spans}
    assert instances["core-api"] != instances["core-worker"]


def test_an_idle_workers_broker_heartbeat_makes_no_traces(
    service: SampleService,
    receiver: OtlpReceiver,
    redis_server: RedisServer,
    conversation_id: str,
) -> None:
    """Celery publishes a worker heartbeat on Redis every 2 s; each would be a one-span trace.
    Redis spans inside a task are kept (previous test); these are left out."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    events = client.pubsub()
    events.psubscribe("*celeryev*")
    started = time.time_ns()
    heartbeats = 0
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline:
        message = events.get_message(timeout=0.5)
        if message is not None and message["type"] == "pmessage":
            heartbeats += b"heartbeat" in message["channel"]
    events.close()
    client.close()
    assert heartbeats >= 2  # the worker did talk to its broker meanwhile
    time.sleep(0.5)  # the batch processors' schedule delay is 0.2 s
    parentless_redis = [
        span.name
        for span in receiver.spans()
        if span.service_name == "core-worker"
        and "redis" in span.scope
        and span.parent_span_id is None
        and span.start_time_unix_nano >= started
    ]
    assert parentless_redis == []
    kept = [
        span
        for span in receiver.spans()
        if span.service_name == "core-worker" and "redis" in span.scope
    ]
    assert kept  # the Redis calls of the task that assigned the conversation
    assert all(span.parent_span_id is not None for span in kept)


def traceparent() -> tuple[str, dict[str, str]]:
    """A fresh trace id and the ``traceparent`` header that makes a request continue it."""
    trace_id = uuid.uuid4().hex
    return trace_id, {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}


def spans_of(receiver: OtlpReceiver, trace_id: str, at_least: int) -> list[ReceivedSpan]:
    """The spans of ``trace_id`` once ``at_least`` arrived (and the stragglers)."""
    receiver.wait_for(lambda: len(receiver.traces().get(trace_id, [])) >= at_least, timeout=20)
    time.sleep(1.0)
    return receiver.traces()[trace_id]


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(lambda cid: {"X-Conversation-ID": cid.upper()}, id="x-conversation-id"),
        pytest.param(
            lambda cid: {"baggage": f"conversation_id={cid},team_id=sales,secret_flag=1"},
            id="baggage",
        ),
    ],
)
def test_conversation_id_from_a_header_reaches_every_span_of_the_request(
    service: SampleService,
    receiver: OtlpReceiver,
    conversation_id: str,
    header: Callable[[str], dict[str, str]],
) -> None:
    trace_id, headers = traceparent()
    response = service.post_webhook(PHONE, "again", headers={**headers, **header(conversation_id)})
    assert response.json()["conversation_ids"] == [conversation_id]
    spans = spans_of(receiver, trace_id, at_least=3)
    assert any(span.name == "POST /webhooks/whatsapp" for span in spans)
    assert any(is_db(span) for span in spans)
    assert all(span.attributes.get("conversation_id") == conversation_id for span in spans)
    assert "secret_flag" not in json.dumps([span.attributes for span in spans])
    if "baggage" in header(conversation_id):
        assert all(span.attributes.get("team_id") == "sales" for span in spans)


def test_bad_inbound_values_are_dropped_without_errors_or_log_lines(
    service: SampleService, receiver: OtlpReceiver
) -> None:
    stderr_before = len(service.service_stderr_lines("api"))
    stdout_before = len(service.service_stdout_lines("api"))
    oversized = ",".join(f"k{i}={'v' * 60}" for i in range(150))
    bad_headers = [
        {"baggage": f"conversation_id={uuid.uuid4()},{oversized}"},
        {"baggage": ",".join(f"k{i}=v" for i in range(300))},
        {"baggage": "conversation_id=conv-123,team_id=has space,=,;;,%%%"},
        {"baggage": "conversation_id=" + "a" * 5000},
        {"X-Conversation-ID": "not-a-uuid"},
        {"X-Conversation-ID": "' OR 1=1 --"},
    ]
    # The webhook binds the conversation it finds, so its spans may carry THAT id, never a
    # value from a bad header.
    real_id_by_trace: dict[str, str | None] = {}
    for bad in bad_headers:
        trace_id, headers = traceparent()
        response = service.post_webhook("+5511900000001", "hello", headers={**headers, **bad})
        assert response.status_code == 200
        real_id_by_trace[trace_id] = response.json()["conversation_ids"][0]
    path_trace_id, headers = traceparent()
    with service.client() as client:
        response = client.get("/conversations/not-a-uuid", headers=headers)
    assert response.status_code == 422
    real_id_by_trace[path_trace_id] = None
    for trace_id, real_id in real_id_by_trace.items():
        for span in spans_of(receiver, trace_id, at_least=1):
            assert span.attributes.get("conversation_id", real_id) == real_id
            assert "team_id" not in span.attributes
    new_stderr = service.service_stderr_lines("api")[stderr_before:]
    new_stdout = service.service_stdout_lines("api")[stdout_before:]
    assert [line for line in new_stderr if "INFO:" not in line] == []
    assert [line for line in new_stdout if "aggage" in line or "WARNING" in line] == []


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_logs_are_correlated_and_redacted_on_stdout_and_over_otlp(
    service: SampleService, receiver: OtlpReceiver, conversation_id: str
) -> None:
    def assignment_logged() -> bool:
        return any(
            line["event"] == "conversation.assigned" and line["conversation_id"] == conversation_id
            for line in json_lines(service.service_stdout_lines("worker"))
        )

    # The worker logs the assignment after committing it, so the API may show it first.
    deadline = time.monotonic() + 20
    while not assignment_logged() and time.monotonic() < deadline:
        time.sleep(0.2)
    api_lines = json_lines(service.service_stdout_lines("api"))
    worker_lines = json_lines(service.service_stdout_lines("worker"))
    [created] = [
        line
        for line in api_lines
        if line["event"] == "conversation.created" and line["conversation_id"] == conversation_id
    ]
    [assigned] = [
        line
        for line in worker_lines
        if line["event"] == "conversation.assigned" and line["conversation_id"] == conversation_id
    ]
    for line in (created, assigned):
        assert line["timestamp"].endswith("Z") and len(line["timestamp"]) == 24
        assert line["phone"] == PHONE_PSEUDONYM
    assert created["service"] == "core-api" and assigned["service"] == "core-worker"
    assert created["level"] == "INFO"
    assert created["trace_id"] == assigned["trace_id"]
    assert len(created["span_id"]) == 16

    def event_records() -> list[ReceivedLogRecord]:
        records = [
            r
            for r in receiver.log_records()
            if r.body in ("conversation.created", "conversation.assigned")
            and r.attributes.get("conversation_id") == conversation_id
        ]
        return records if len({r.body for r in records}) == 2 else []

    records = receiver.wait_for(event_records, timeout=20)
    assert {r.body for r in records} == {"conversation.created", "conversation.assigned"}
    for record in records:
        assert record.attributes["phone"] == PHONE_PSEUDONYM
        assert record.trace_id == created["trace_id"]
    [received] = [
        r
        for r in receiver.log_records()
        if r.body == "message.received" and r.attributes.get("conversation_id") == conversation_id
    ][:1]
    assert received.attributes["message_content"].endswith(" chars>")
    everything = "\n".join(
        service.service_stdout_lines() + service.service_stderr_lines()
    ) + "\n".join(str(request.message) for request in receiver.requests())
    # the card in both spellings: "4111" alone also occurs inside timestamps and ids
    for secret in (PHONE, "11987654321", CARD, CARD.replace(" ", ""), "Ana Souza", "call me"):
        assert secret not in everything


def test_collector_down_at_start_and_during_traffic_costs_only_telemetry(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    receiver = OtlpReceiver(port=free_port())
    with SampleService(
        tmp_path, redis_url=redis_server.url, otlp_endpoint=f"http://127.0.0.1:{receiver.port}"
    ) as service:
        phones = iter(f"+55119000{i:05d}" for i in range(1000))
        statuses = [service.post_webhook(next(phones), "hi").status_code for _ in range(15)]
        time.sleep(3)
        with receiver:
            statuses += [service.post_webhook(next(phones), "hi").status_code for _ in range(5)]
            receiver.wait_for(
                lambda: [s for s in receiver.spans() if s.name == "POST /webhooks/whatsapp"],
                timeout=30,
            )
        statuses += [service.post_webhook(next(phones), "hi").status_code for _ in range(15)]
        time.sleep(3)
        with service.client() as client:
            assert client.get("/ping").json() == {"status": "ok"}
    assert statuses == [200] * 35
    for process in ("api", "worker"):
        stderr = service.service_stderr_lines(process)
        export_errors = [
            line
            for line in service.service_stdout_lines(process) + stderr
            if "export" in line.lower() and ("error" in line.lower() or "fail" in line.lower())
        ]
        assert len(stderr) <= 15, "\n".join(stderr)
        assert len(export_errors) <= 12, "\n".join(export_errors)


def test_invalid_otel_values_are_named_once_and_the_service_still_starts(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver
) -> None:
    with SampleService(
        tmp_path,
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        worker=False,
        env={"OTEL_TRACES_EXPORTER": "bogus", "OTEL_BSP_MAX_QUEUE_SIZE": "abc"},
        api_service_name="bad-settings-api",
    ) as service:
        with service.client() as client:
            assert client.get("/ping").status_code == 200
        receiver.wait_for(
            lambda: [s for s in receiver.spans() if s.service_name == "bad-settings-api"]
        )
    stderr = service.service_stderr_lines("api")
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_BSP_MAX_QUEUE_SIZE"):
        [line] = [line for line in stderr if name in line]
        assert f"fix or unset {name}" in line
    assert not [line for line in stderr if "Traceback" in line]


def test_missing_service_name_is_reported_not_silent(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver
) -> None:
    with SampleService(
        tmp_path,
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        worker=False,
        env={"OTEL_SERVICE_NAME": None, "MAX_OTEL_ENVIRONMENT": "unnamed-test"},
    ) as service:
        with service.client() as client:
            client.get("/ping")
        spans = receiver.wait_for(
            lambda: [
                s
                for s in receiver.spans()
                if s.resource.get("deployment.environment.name") == "unnamed-test"
            ]
        )
    assert spans[0].service_name == "unknown_service:uvicorn"
    [line] = [line for line in service.service_stderr_lines("api") if "no service name" in line]
    assert "Fix: set OTEL_SERVICE_NAME" in line


def test_exiting_processes_deliver_their_last_spans(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver
) -> None:
    """A pool process replaced after each task (``--max-tasks-per-child=1``) and an API
    stopped by SIGTERM: with batches held for a minute, only the exit flush delivers."""
    slow_batches = {
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "OTEL_BLRP_SCHEDULE_DELAY": "60000",
        "OTEL_METRIC_EXPORT_INTERVAL": "60000",
    }
    with SampleService(
        tmp_path,
        redis_url=redis_server.url,
        otlp_endpoint=receiver.endpoint,
        worker_args=["--max-tasks-per-child=1"],
        env=slow_batches,
        api_service_name="exit-api",
        worker_service_name="exit-worker",
    ) as service:
        ids = [
            service.post_webhook(f"+55119111{i:04d}", "hi").json()["conversation_ids"][0]
            for i in range(2)
        ]
        for created in ids:
            service.wait_until_assigned(created)
        receiver.wait_for(
            lambda: (
                len(
                    {
                        s.resource["service.instance.id"]
                        for s in receiver.spans()
                        if s.name == "run/max_service.triage_conversation"
                        and s.service_name == "exit-worker"
                    }
                )
                == 2
            ),
            timeout=20,
        )
    names = {(s.service_name, s.name) for s in receiver.spans()}
    assert ("exit-api", "POST /webhooks/whatsapp") in names
    assert ("exit-api", "GET /conversations/{conversation_id}") in names
    assert service.returncodes["worker"] == 0


def test_uvicorn_worker_processes_each_export(
    tmp_path: Path, redis_server: RedisServer, receiver: OtlpReceiver
) -> None:
    with (
        SampleService(
            tmp_path,
            redis_url=redis_server.url,
            otlp_endpoint=receiver.endpoint,
            worker=False,
            api_args=["--workers", "2"],
            api_service_name="multi-api",
        ) as service,
        httpx.Client(base_url=service.base_url) as client,
    ):
        for _ in range(20):
            assert client.get("/ping").status_code == 200
    pings = [s for s in receiver.spans() if s.service_name == "multi-api" and s.name == "GET /ping"]
    assert len(pings) >= 20


def test_a_rival_distro_taking_over_is_reported(tmp_path: Path, redis_server: RedisServer) -> None:
    """With opentelemetry-distro installed too and OTEL_PYTHON_DISTRO unset, the first distro
    found wins (here: opentelemetry-distro); max_otel's pre-instrument hook says so."""
    from opentelemetry.util._importlib_metadata import entry_points

    hooks = {ep.name: ep.value for ep in entry_points(group="opentelemetry_pre_instrument")}
    assert hooks.get("max_otel") == "max_otel.instrumentation.distro:warn_if_not_selected", (
        "pyproject.toml must declare [project.entry-points.opentelemetry_pre_instrument] "
        'max_otel = "max_otel.instrumentation.distro:warn_if_not_selected" (then reinstall)'
    )
    with SampleService(
        tmp_path,
        redis_url=redis_server.url,
        worker=False,
        env={"OTEL_PYTHON_DISTRO": None, "OTEL_PYTHON_CONFIGURATOR": None},
    ) as service:
        pass
    [line] = [
        line
        for line in service.service_stderr_lines("api")
        if "another OpenTelemetry distro was loaded instead of max_otel" in line
    ]
    assert "Fix: set OTEL_PYTHON_DISTRO=max_otel" in line
