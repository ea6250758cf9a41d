"""``with conversation(id)``: baggage for what runs inside, attribute on the open spans."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import baggage, context

from max_otel.instrumentation import conversation, current_conversation_id
from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import ConversationBaggageSpanProcessor
from max_otel.instrumentation.conversation import configure_binding
from max_otel.instrumentation.open_spans import OpenSpans
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


@pytest.fixture
def open_spans() -> Iterator[OpenSpans]:
    registry = OpenSpans()
    configure_binding(BaggagePolicy(), registry)
    yield registry
    configure_binding(BaggagePolicy(), None)


def test_spans_started_inside_and_open_ancestors_get_the_id(open_spans: OpenSpans) -> None:
    provider, exporter = in_memory_provider(
        ConversationBaggageSpanProcessor(BaggagePolicy()), open_spans
    )
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("before"):
        pass
    with tracer.start_as_current_span("server"), tracer.start_as_current_span("handler"):
        with conversation(uuid.UUID(CID), channel="whatsapp"):
            assert current_conversation_id() == CID
            with tracer.start_as_current_span("db"):
                pass
        assert current_conversation_id() is None
        with tracer.start_as_current_span("after"):
            pass
    attributes = {span.name: dict(span.attributes or {}) for span in exporter.get_finished_spans()}
    expected = {"conversation_id": CID, "channel": "whatsapp"}
    assert attributes["db"] == expected
    assert attributes["handler"] == expected
    assert attributes["server"] == expected
    assert attributes["before"] == {}
    assert attributes["after"] == {}
    assert len(open_spans) == 0


def test_invalid_id_is_not_bound_and_the_block_still_runs(
    open_spans: OpenSpans, caplog: pytest.LogCaptureFixture
) -> None:
    ran = []
    for _ in range(3):
        with conversation("conv-1", team_id="sales"):
            ran.append(dict(baggage.get_all()))
    assert ran == [{"team_id": "sales"}] * 3
    warnings = [r for r in caplog.records if "conversation_id has an invalid value" in r.message]
    assert len(warnings) <= 1


def test_binding_works_across_awaits(open_spans: OpenSpans) -> None:
    async def handler() -> str | None:
        with conversation(CID):
            await asyncio.sleep(0)
            return current_conversation_id()

    assert asyncio.run(handler()) == CID


def test_rebinding_the_same_id_adds_no_context(open_spans: OpenSpans) -> None:
    with conversation(CID):
        before = context.get_current()
        with conversation(CID):
            assert context.get_current() is before


def test_a_non_allowlisted_key_travels_but_is_not_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_binding(BaggagePolicy(("conversation_id",)), None)
    try:
        provider, exporter = in_memory_provider(
            ConversationBaggageSpanProcessor(BaggagePolicy(("conversation_id",)))
        )
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("server"), conversation(CID, team_id="sales"):
            assert baggage.get_baggage("team_id") == "sales"
        attributes = dict(exporter.get_finished_spans()[0].attributes or {})
        assert attributes == {"conversation_id": CID}
    finally:
        configure_binding(BaggagePolicy(), None)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
