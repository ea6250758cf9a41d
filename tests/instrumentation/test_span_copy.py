"""What the SDK's limits dropped from a span is still reported after the span is copied: by
the in-process redaction and by the ``conversation_id`` backfill."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link

from max_otel.instrumentation.conversation_backfill import ConversationBackfillSpanProcessor
from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.processors.in_process import RedactingSpanExporter

pytestmark = pytest.mark.unit

PHONE = "+5511987654321"
REDACTOR = build_redactor({"MAX_OTEL_PSEUDONYM_KEY": "unit-test-pseudonym-key-0123456789abcdef"})


def exported_child(*, backfill: bool) -> tuple[object, ...]:
    """(attributes, dropped attributes, events, links) of an exported span that went over
    every limit (2 attributes, 1 event, 1 link) and carries a phone number."""
    inner = InMemorySpanExporter()
    export = SimpleSpanProcessor(RedactingSpanExporter(inner, REDACTOR))
    provider = TracerProvider(
        span_limits=SpanLimits(max_span_attributes=2, max_events=1, max_links=1)
    )
    provider.add_span_processor(ConversationBackfillSpanProcessor(export) if backfill else export)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("POST /webhooks/whatsapp") as root:
        links = [Link(root.get_span_context()), Link(root.get_span_context())]
        with tracer.start_as_current_span("SELECT", links=links) as child:
            child.set_attribute("db.system", "postgresql")
            child.set_attribute("db.name", "max")
            child.set_attribute("db.statement", f"SELECT 1 -- {PHONE}")
            child.add_event("first")
            child.add_event("exception", {"exception.message": f"no customer {PHONE}"})
        root.set_attribute("conversation_id", "c-1")
    [span] = [span for span in inner.get_finished_spans() if span.name == "SELECT"]
    assert PHONE not in repr((span.attributes, [e.attributes for e in span.events]))
    return (
        sorted(span.attributes or {}),
        span.dropped_attributes,
        (len(span.events), span.dropped_events),
        (len(span.links), span.dropped_links),
    )


def test_redacted_copy_reports_what_the_limits_dropped() -> None:
    assert exported_child(backfill=False) == (["db.name", "db.statement"], 1, (1, 1), (1, 1))


def test_backfilled_copy_reports_what_the_limits_dropped() -> None:
    assert exported_child(backfill=True) == (
        ["conversation_id", "db.name", "db.statement"],
        1,
        (1, 1),
        (1, 1),
    )
