"""The ASGI tracer provider: the same spans as the global provider, attributes set once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from max_otel.instrumentation.asgi_tracing import (
    AttributesSetAfterStartSampler,
    asgi_tracer_provider,
)
from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import ConversationBaggageSpanProcessor
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


class StartedWith(SpanProcessor):
    """Remembers the attributes each span had when it started."""

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, object]] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.seen[span.name] = dict(span.attributes or {})

    def on_end(self, span: ReadableSpan) -> None:
        return None


def _request(provider: TracerProvider, path: str = "/ping") -> None:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, exclude_spans=["receive"])
    try:
        with TestClient(app) as client:
            headers = {"baggage": f"conversation_id={CID}"}
            assert client.get(path, headers=headers).status_code in (200, 404)
    finally:
        FastAPIInstrumentor.uninstrument_app(app)


@pytest.fixture
def recorded() -> Iterator[tuple[TracerProvider, InMemorySpanExporter, StartedWith]]:
    started = StartedWith()
    provider, exporter = in_memory_provider(
        ConversationBaggageSpanProcessor(BaggagePolicy()), started
    )
    yield provider, exporter, started
    provider.shutdown()


def _shape(spans: Sequence[ReadableSpan]) -> list[tuple[object, ...]]:
    return [
        (span.name, span.kind, dict(span.attributes or {}), span.status.status_code)
        for span in spans
    ]


@pytest.mark.parametrize("path", ["/ping", "/missing"])
def test_spans_are_the_same_as_with_the_global_provider(
    recorded: tuple[TracerProvider, InMemorySpanExporter, StartedWith], path: str
) -> None:
    """Every request attribute still reaches the server span (the middleware sets them)."""
    provider, exporter, _ = recorded
    _request(provider, path)
    expected = _shape(exporter.get_finished_spans())
    exporter.clear()
    asgi_provider = asgi_tracer_provider(provider)
    assert asgi_provider is not None
    _request(asgi_provider, path)
    spans = exporter.get_finished_spans()
    assert _shape(spans) == expected
    server = spans[-1]
    assert server.kind is SpanKind.SERVER
    assert {"http.method", "http.url", "http.target", "conversation_id"} <= set(
        server.attributes or {}
    )
    assert server.resource is provider.resource


def test_the_server_span_starts_without_the_request_attributes(
    recorded: tuple[TracerProvider, InMemorySpanExporter, StartedWith],
) -> None:
    provider, _, started = recorded
    asgi_provider = asgi_tracer_provider(provider)
    assert asgi_provider is not None
    _request(asgi_provider)
    assert started.seen["GET /ping"] == {"conversation_id": CID}


class Deciding(Sampler):
    """Samples on an attribute and adds one attribute of its own."""

    def __init__(self) -> None:
        self.saw: Attributes = None

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        self.saw = attributes
        if (attributes or {}).get("http.target") == "/health":
            return SamplingResult(Decision.DROP)
        state = TraceState([("max", "1")])
        return SamplingResult(
            Decision.RECORD_AND_SAMPLE, {**(attributes or {}), "sampler.rule": "all"}, state
        )

    def get_description(self) -> str:
        return "Deciding"


def test_the_inner_sampler_decides_on_the_attributes_and_keeps_its_own() -> None:
    inner = Deciding()
    sampler = AttributesSetAfterStartSampler(inner)
    attributes = {"http.method": "GET", "http.target": "/ping"}
    result = sampler.should_sample(None, 1, "GET /ping", SpanKind.SERVER, attributes)
    assert inner.saw == attributes
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert dict(result.attributes) == {"sampler.rule": "all"}
    assert result.trace_state == TraceState([("max", "1")])
    dropped = sampler.should_sample(None, 1, "GET /health", attributes={"http.target": "/health"})
    assert dropped.decision is Decision.DROP
    assert sampler.get_description() == "AttributesSetAfterStart{Deciding}"


def test_spans_started_without_attributes_keep_the_inner_result() -> None:
    sampler = AttributesSetAfterStartSampler(ALWAYS_ON)
    result = sampler.should_sample(None, 1, "GET /ping http send")
    assert result.decision is Decision.RECORD_AND_SAMPLE
    assert dict(result.attributes) == {}


def test_the_provider_shares_processors_resource_and_ids(
    recorded: tuple[TracerProvider, InMemorySpanExporter, StartedWith],
) -> None:
    provider, exporter, _ = recorded
    asgi_provider = asgi_tracer_provider(provider)
    assert asgi_provider is not None
    assert asgi_provider.resource is provider.resource
    assert asgi_provider.id_generator is provider.id_generator
    assert isinstance(asgi_provider.sampler, AttributesSetAfterStartSampler)
    assert asgi_provider.sampler.inner is provider.sampler
    with asgi_provider.get_tracer("t").start_as_current_span("work"):
        pass
    assert [span.name for span in exporter.get_finished_spans()] == ["work"]


def test_no_provider_without_the_sdk() -> None:
    assert asgi_tracer_provider(trace.NoOpTracerProvider()) is None
    assert asgi_tracer_provider(object()) is None
