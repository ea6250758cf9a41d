"""A conversation_id path parameter reaches the server span and every span after routing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import baggage
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import ConversationBaggageSpanProcessor
from max_otel.instrumentation.conversation import configure_binding
from max_otel.instrumentation.open_spans import OpenSpans
from max_otel.instrumentation.routing import (
    instrument_path_parameters,
    uninstrument_path_parameters,
)
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


@pytest.fixture
def traced_app() -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    open_spans = OpenSpans()
    configure_binding(BaggagePolicy(), open_spans)
    provider, exporter = in_memory_provider(
        ConversationBaggageSpanProcessor(BaggagePolicy()), open_spans
    )
    tracer = provider.get_tracer("handler")
    instrument_path_parameters()
    app = FastAPI()

    @app.get("/conversations/{conversation_id}")
    def get_conversation(conversation_id: str) -> dict[str, object]:
        with tracer.start_as_current_span("db"):
            pass
        return {"baggage": dict(baggage.get_all())}

    @app.get("/typed/{conversation_id}")
    async def typed(conversation_id: uuid.UUID) -> dict[str, object]:
        return {"baggage": dict(baggage.get_all())}

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, exclude_spans=["receive", "send"]
    )
    try:
        with TestClient(app) as client:
            yield client, exporter
    finally:
        FastAPIInstrumentor.uninstrument_app(app)
        uninstrument_path_parameters()
        configure_binding(BaggagePolicy(), None)


def test_path_parameter_is_set_on_server_span_and_children(
    traced_app: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced_app
    response = client.get(f"/conversations/{CID.upper()}")
    assert response.json() == {"baggage": {"conversation_id": CID}}
    spans = {span.name: dict(span.attributes or {}) for span in exporter.get_finished_spans()}
    assert set(spans) == {"db", "GET /conversations/{conversation_id}"}
    for attributes in spans.values():
        assert attributes["conversation_id"] == CID


def test_typed_uuid_path_parameter_works(
    traced_app: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced_app
    assert client.get(f"/typed/{CID}").json() == {"baggage": {"conversation_id": CID}}
    (span,) = exporter.get_finished_spans()
    assert (span.attributes or {})["conversation_id"] == CID


def test_path_parameter_wins_over_the_header(
    traced_app: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, _ = traced_app
    other = str(uuid.uuid4())
    response = client.get(f"/conversations/{CID}", headers={"baggage": f"conversation_id={other}"})
    assert response.json()["baggage"]["conversation_id"] == CID


def test_non_uuid_path_parameter_is_ignored_and_the_request_unaffected(
    traced_app: tuple[TestClient, InMemorySpanExporter],
) -> None:
    client, exporter = traced_app
    response = client.get("/conversations/not-a-uuid")
    assert response.status_code == 200
    assert response.json() == {"baggage": {}}
    for span in exporter.get_finished_spans():
        assert "conversation_id" not in (span.attributes or {})


def test_instrumenting_twice_wraps_once() -> None:
    first = instrument_path_parameters()
    try:
        assert instrument_path_parameters() == []
        assert "starlette.routing.Route" in first or not first
    finally:
        uninstrument_path_parameters()
