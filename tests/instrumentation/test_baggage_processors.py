"""conversation_id (and the other allowlisted keys) on every span and log record."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from max_otel.instrumentation.baggage_policy import BaggagePolicy
from max_otel.instrumentation.baggage_processors import (
    ConversationBaggageLogProcessor,
    ConversationBaggageSpanProcessor,
)
from tests.instrumentation._tracing import in_memory_provider

pytestmark = pytest.mark.unit

CID = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


def test_every_span_under_the_baggage_gets_the_allowlisted_attributes() -> None:
    provider, exporter = in_memory_provider(ConversationBaggageSpanProcessor(BaggagePolicy()))
    tracer = provider.get_tracer("test")
    ctx = baggage.set_baggage("conversation_id", CID)
    ctx = baggage.set_baggage("team_id", "sales", ctx)
    ctx = baggage.set_baggage("customer_phone", "+5511987654321", ctx)
    token = context.attach(ctx)
    try:
        with tracer.start_as_current_span("server"), tracer.start_as_current_span("db"):
            pass
    finally:
        context.detach(token)
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["db", "server"]
    for span in spans:
        assert span.attributes is not None
        assert span.attributes["conversation_id"] == CID
        assert span.attributes["team_id"] == "sales"
        assert "customer_phone" not in span.attributes


def test_invalid_and_oversized_values_are_not_recorded() -> None:
    provider, exporter = in_memory_provider(ConversationBaggageSpanProcessor(BaggagePolicy()))
    ctx = baggage.set_baggage("conversation_id", "conv-1")
    ctx = baggage.set_baggage("agent_id", "a" * 5000, ctx)
    provider.get_tracer("test").start_span("s", context=ctx).end()
    attributes = exporter.get_finished_spans()[0].attributes or {}
    assert "conversation_id" not in attributes
    assert "agent_id" not in attributes


def test_log_records_get_baggage_unless_they_carry_the_field() -> None:
    provider = LoggerProvider()
    exporter = InMemoryLogRecordExporter()
    provider.add_log_record_processor(ConversationBaggageLogProcessor(BaggagePolicy()))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    otel_logger = provider.get_logger("test")
    ctx = baggage.set_baggage("conversation_id", CID)
    ctx = baggage.set_baggage("team_id", "sales", ctx)
    otel_logger.emit(body="one", context=ctx)
    otel_logger.emit(body="two", context=ctx, attributes={"team_id": "support"})
    first, second = (r.log_record.attributes or {} for r in exporter.get_finished_logs())
    assert first == {"conversation_id": CID, "team_id": "sales"}
    assert second == {"team_id": "support", "conversation_id": CID}


def test_processor_never_raises_on_a_broken_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    ConversationBaggageLogProcessor().on_emit(object())  # type: ignore[arg-type]
    assert "could not copy baggage onto a log record" in caplog.text
