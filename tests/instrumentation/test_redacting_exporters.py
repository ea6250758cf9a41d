"""The in-process exporters hand only redacted copies to the real exporter."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.processors.in_process import RedactingLogRecordExporter, RedactingSpanExporter
from max_otel.processors.redaction import PseudonymKey

pytestmark = pytest.mark.unit

KEY = "unit-test-pseudonym-key-0123456789abcdef"
PHONE = "+5511987654321"
PSEUDONYM = PseudonymKey(KEY.encode(), "k1").pseudonymise("phone", PHONE)
REDACTOR = build_redactor({"MAX_OTEL_PSEUDONYM_KEY": KEY})


def span_pipeline(
    resource: Resource | None = None,
) -> tuple[TracerProvider, InMemorySpanExporter, RedactingSpanExporter]:
    inner = InMemorySpanExporter()
    redacting = RedactingSpanExporter(inner, REDACTOR)
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "core-api"}))
    provider.add_span_processor(SimpleSpanProcessor(redacting))
    return provider, inner, redacting


def test_span_name_attributes_events_links_and_status_are_redacted() -> None:
    provider, inner, redacting = span_pipeline()
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent") as parent:
        link = Link(parent.get_span_context(), {"customer.phone": PHONE})
    with tracer.start_as_current_span(f"GET /customers/{PHONE}", links=[link]) as span:
        span.set_attribute("phone", PHONE)
        span.set_attribute("conversation_id", "c-1")
        span.set_attribute("url.full", "https://api.example.com/x?token=s3cr3t&sig=abc")
        span.record_exception(ValueError(f"no customer {PHONE}"))
        span.set_status(Status(StatusCode.ERROR, f"lookup of {PHONE} failed"))
    exported = inner.get_finished_spans()[-1]
    everything = repr(
        (exported.name, exported.attributes, [(e.name, e.attributes) for e in exported.events])
    ) + repr((exported.links[0].attributes, exported.status.description))
    assert PHONE not in everything
    assert "s3cr3t" not in everything
    assert exported.name == f"GET /customers/{PSEUDONYM}"
    assert exported.attributes is not None
    assert exported.attributes["phone"] == PSEUDONYM
    assert exported.attributes["conversation_id"] == "c-1"
    assert exported.status.description == f"lookup of {PSEUDONYM} failed"
    assert exported.context == span.get_span_context()
    assert redacting.redactions["phone"] >= 1


def test_clean_spans_are_passed_on_unchanged() -> None:
    provider, inner, redacting = span_pipeline()
    with provider.get_tracer("t").start_as_current_span("GET /ping") as span:
        span.set_attribute("http.response.status_code", 200)
    readable = inner.get_finished_spans()[0]
    hits: Counter[str] = Counter()
    assert redacting.redact(readable, hits) is readable
    assert not hits


def test_resource_attributes_are_redacted_once() -> None:
    provider, inner, _ = span_pipeline(
        Resource.create({"service.name": "core-api", "deploy.contact_phone": PHONE})
    )
    tracer = provider.get_tracer("t")
    for _ in range(3):
        tracer.start_span("s").end()
    resources = {id(span.resource) for span in inner.get_finished_spans()}
    assert len(resources) == 1
    assert inner.get_finished_spans()[0].resource.attributes["deploy.contact_phone"] == PSEUDONYM


class ExplodingRedactor:
    """A redactor that fails on everything (the exporter must fail closed)."""

    def redact_text(self, text: str, hits: Counter[str]) -> str:
        raise RuntimeError("boom")

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object:
        raise RuntimeError("boom")

    def redact_attributes(
        self, attributes: Mapping[str, object], hits: Counter[str]
    ) -> dict[str, object]:
        raise RuntimeError("boom")


def test_a_span_that_cannot_be_redacted_is_dropped_not_exported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = InMemorySpanExporter()
    redacting = RedactingSpanExporter(inner, ExplodingRedactor())
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(redacting))
    provider.get_tracer("t").start_span(PHONE).end()
    provider.get_tracer("t").start_span(PHONE).end()
    assert inner.get_finished_spans() == ()
    assert redacting.dropped_spans == 2
    assert caplog.text.count("span redaction failed") == 1


def log_pipeline() -> tuple[logging.Logger, InMemoryLogRecordExporter]:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"service.name": "core-api"}))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(inner, REDACTOR))
    )
    logger = logging.getLogger("test.redacting_logs")
    logger.handlers = [LoggingHandler(logger_provider=provider)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, inner


def test_log_body_and_extra_fields_are_redacted() -> None:
    logger, inner = log_pipeline()
    logger.info(
        "sent to %s",
        PHONE,
        extra={"phone": PHONE, "message_content": "call me", "conversation_id": "c-1"},
    )
    (record,) = (readable.log_record for readable in inner.get_finished_logs())
    assert record.body == f"sent to {PSEUDONYM}"
    assert record.attributes is not None
    assert record.attributes["phone"] == PSEUDONYM
    assert record.attributes["message_content"] == "<7 chars>"
    assert record.attributes["conversation_id"] == "c-1"


def test_structured_log_body_is_redacted_value_by_value() -> None:
    inner = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(inner, REDACTOR))
    )
    provider.get_logger("t").emit(body={"phone": PHONE, "status": "sent"})
    (readable,) = inner.get_finished_logs()
    assert readable.log_record.body == {"phone": PSEUDONYM, "status": "sent"}


def test_same_phone_same_pseudonym_in_logs_and_spans() -> None:
    provider, spans, _ = span_pipeline()
    with provider.get_tracer("t").start_as_current_span("s") as span:
        span.set_attribute("customer_phone", PHONE)
    logger, logs = log_pipeline()
    logger.info("x", extra={"customer_phone": PHONE})
    span_value = (spans.get_finished_spans()[0].attributes or {})["customer_phone"]
    log_value = (logs.get_finished_logs()[0].log_record.attributes or {})["customer_phone"]
    assert span_value == log_value == PSEUDONYM
