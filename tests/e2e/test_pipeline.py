"""The whole pipeline with real binaries, checked through Jaeger's API as a user would.

The sample Max service (``core-api`` and its Celery worker ``core-worker``, under
``opentelemetry-instrument`` with the ``max_otel`` distro) sends OTLP to otelcol-max, whose
ingress stage hands everything to the redaction processor, which forwards it to the
collector's redacted stage, which exports to Jaeger. The customers' conversations of
``max_service.traffic`` run once for the module, followed by agent-console lookups that put
the customers' phone, e-mail and a bearer token in the URL and in captured headers
(``demo.seeded_pii``).

The service runs with ``MAX_OTEL_REDACT_SPANS=false``: the distro's in-process span
redaction is off, so the redaction processor in the pipeline is the only thing between that
PII and Jaeger.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from max_service_launch.local_servers import RedisServer
from max_service_launch.sample_service import SampleService

from demo.conversation_traces import (
    API_SERVICE,
    WORKER_SERVICE,
    ConversationTraces,
    drive_conversations,
    wait_until_settled,
)
from demo.demo_stack import pseudonym_key_environment
from demo.jaeger_api import JaegerApi, JaegerTrace, stored_text
from demo.seeded_pii import CAPTURE_HEADERS_ENV, EMBEDDED_PII, find_seeded, seeded_values
from demo.trace_checks import (
    CONVERSATION_ID,
    describe_spans,
    span_kind,
    span_kinds,
    spans_without,
)
from max_otel.cli.stack import LocalStack
from max_service.traffic import CUSTOMERS

BOTH_SERVICES = {API_SERVICE, WORKER_SERVICE}
REPLY_OPERATION = "POST /conversations/{conversation_id}/messages"
_SETTLE_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def jaeger(pipeline_stack: LocalStack) -> JaegerApi:
    return JaegerApi(pipeline_stack.layout.jaeger_url)


@pytest.fixture(scope="module")
def conversations(
    pipeline_stack: LocalStack,
    jaeger: JaegerApi,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[ConversationTraces]]:
    """Every customer's conversation, driven once, with what Jaeger stored for each."""
    with SampleService(
        tmp_path_factory.mktemp("service"),
        redis_url=redis_server.url,
        otlp_endpoint=f"http://{pipeline_stack.layout.collector_grpc}",
        distro="max_otel",
        pseudonym_key=None,
        env={
            **pseudonym_key_environment(pipeline_stack),
            **CAPTURE_HEADERS_ENV,
            "MAX_OTEL_REDACT_SPANS": "false",
        },
    ) as service:
        runs = drive_conversations(service.base_url, service.webhook_secret)
        yield wait_until_settled(jaeger, runs, timeout=_SETTLE_TIMEOUT)


def _reply_trace(item: ConversationTraces) -> JaegerTrace:
    replies = [t for t in item.tagged if t.root().name == REPLY_OPERATION]
    assert len(replies) == 1, f"{item.run.conversation_id}: {len(replies)} reply traces"
    return replies[0]


def _assert_one_trace_across_both_services(trace: JaegerTrace, worker_span: str) -> None:
    assert trace.services == BOTH_SERVICES, trace.trace_id
    roots = trace.roots()
    assert [root.service for root in roots] == [API_SERVICE], (
        f"trace {trace.trace_id} has {len(roots)} roots: {describe_spans(roots)}"
    )
    worker_runs = [s for s in trace.spans if s.name == worker_span]
    assert [s.service for s in worker_runs] == [WORKER_SERVICE], describe_spans(list(trace.spans))


@pytest.mark.e2e
def test_each_inbound_message_is_one_trace_across_api_and_worker(
    conversations: list[ConversationTraces],
) -> None:
    """Webhook → database → triage task → worker: one trace, rooted at the webhook."""
    for item in conversations:
        assert item.inbound is not None, item.run.conversation_id
        _assert_one_trace_across_both_services(item.inbound, "run/max_service.triage_conversation")


@pytest.mark.e2e
def test_each_agent_reply_is_one_trace_across_api_and_worker(
    conversations: list[ConversationTraces],
) -> None:
    for item in conversations:
        _assert_one_trace_across_both_services(_reply_trace(item), "run/max_service.send_message")


@pytest.mark.e2e
def test_conversation_flows_have_http_database_redis_and_celery_spans(
    conversations: list[ConversationTraces],
) -> None:
    for item in conversations:
        assert item.inbound is not None
        for trace in (item.inbound, _reply_trace(item)):
            assert span_kinds(trace) >= {"http", "db", "redis", "celery"}, trace.root().name
            worker_kinds = {span_kind(s) for s in trace.spans if s.service == WORKER_SERVICE}
            assert worker_kinds >= {"db", "redis", "celery"}, trace.root().name


@pytest.mark.e2e
def test_conversation_id_is_on_every_span_of_the_conversations_traces(
    conversations: list[ConversationTraces],
) -> None:
    """Every trace Jaeger finds by conversation_id (reply, reads, close, console lookup)
    carries it on every span, in both services."""
    for item in conversations:
        roots = {trace.root().name for trace in item.tagged}
        assert {REPLY_OPERATION, "GET /conversations/{conversation_id}"} <= roots, roots
        for trace in item.tagged:
            missing = spans_without(trace, CONVERSATION_ID, item.run.conversation_id)
            assert not missing, f"{trace.root().name}: {describe_spans(missing)}"


@pytest.mark.e2e
def test_inbound_message_trace_carries_conversation_id(
    conversations: list[ConversationTraces],
) -> None:
    for item in conversations:
        assert item.inbound is not None
        assert not spans_without(item.inbound, CONVERSATION_ID, item.run.conversation_id)


@pytest.mark.e2e
def test_the_seeded_pii_entered_the_telemetry_and_was_redacted(
    conversations: list[ConversationTraces],
) -> None:
    """The console lookup's captured header and URL reached Jaeger, pseudonymised: the PII
    search below is not vacuous."""
    lookups = [
        trace.root()
        for item in conversations
        for trace in item.tagged
        if "http.request.header.x_customer_phone" in trace.root().tags
    ]
    assert len(lookups) == len(conversations)
    for span in lookups:
        assert "phone:" in str(span.tags["http.request.header.x_customer_phone"])
        assert "customer_phone=phone" in str(span.tags["http.url"])
        assert "Bearer" not in str(span.tags.get("http.request.header.authorization", ""))


@pytest.mark.e2e
def test_no_seeded_pii_anywhere_in_what_jaeger_stored(
    conversations: list[ConversationTraces], jaeger: JaegerApi
) -> None:
    services = jaeger.services()
    assert set(services) >= BOTH_SERVICES
    traces = [t for service in services for t in jaeger.find_traces(service, limit=10_000)]
    assert len(traces) >= sum(1 + len(item.tagged) for item in conversations)
    assert find_seeded(stored_text(traces)) == []


@pytest.mark.e2e
def test_no_seeded_pii_in_the_pipelines_logs(
    conversations: list[ConversationTraces], pipeline_stack: LocalStack
) -> None:
    logs = [c.log_path for c in pipeline_stack.components if c.log_path is not None]
    text = "\n".join(path.read_text(errors="replace") for path in logs)
    assert text, "no component logged anything"
    assert find_seeded(text) == []


@pytest.mark.unit
def test_every_embedded_pii_value_is_in_a_customer_message() -> None:
    """The demo's list of embedded PII stays in step with ``max_service.traffic``."""
    messages = " ".join(message for c in CUSTOMERS for message in c.messages)
    assert [value for value in EMBEDDED_PII if value not in messages] == []
    # Also searched for as a scrubber or a URL might have rewritten them.
    assert {"4111111111111111", "5511987654321", "ana.souza%40example.com"} <= set(seeded_values())
