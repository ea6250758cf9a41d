"""Copy allowlisted baggage (``conversation_id``, ``team_id``...) onto spans and log records.

``ConversationBaggageSpanProcessor`` sets, when a span starts, one attribute per allowlisted
baggage entry of the span's parent context (so HTTP server, SQLAlchemy, Redis, Celery publish
and run spans, in every process the baggage reached, all carry ``conversation_id``).
``ConversationBaggageLogProcessor`` does the same for OpenTelemetry log records, from the
context the record was emitted in, unless the record already has the attribute::

    policy = BaggagePolicy()
    tracer_provider.add_span_processor(ConversationBaggageSpanProcessor(policy))
    logger_provider.add_log_record_processor(ConversationBaggageLogProcessor(policy))

Why not ``opentelemetry-processor-baggage``'s ``BaggageSpanProcessor``: it copies every key
its predicate accepts with the value as it came, of any length; baggage is untrusted input,
so these processors also check each value (``BaggagePolicy``: UUID ``conversation_id``,
format and length caps) and drop a bad one with a debug log.

Both must be registered before the export processors. ``on_start``/``on_emit`` never raise
and never block.
"""

from __future__ import annotations

import logging

from opentelemetry.context import Context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from max_otel.instrumentation.baggage_policy import BaggagePolicy

logger = logging.getLogger(__name__)


class ConversationBaggageSpanProcessor(SpanProcessor):
    """Sets allowlisted, valid baggage entries as attributes of each starting span."""

    def __init__(self, policy: BaggagePolicy | None = None) -> None:
        self._policy = policy or BaggagePolicy()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            attributes = self._policy.promoted(parent_context)
            if attributes:
                span.set_attributes(attributes)
        except Exception:
            logger.exception("could not copy baggage onto span %s", span.name)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class ConversationBaggageLogProcessor(LogRecordProcessor):
    """Sets allowlisted, valid baggage entries as attributes of each log record (explicit
    attributes of the record win)."""

    def __init__(self, policy: BaggagePolicy | None = None) -> None:
        self._policy = policy or BaggagePolicy()

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        try:
            record = log_record.log_record
            context = getattr(record, "context", None)
            if context is None:
                return
            attributes = self._policy.promoted(context)
            if not attributes:
                return
            if record.attributes is None:
                record.attributes = {}
            for key, value in attributes.items():
                if record.attributes.get(key) is None:
                    record.attributes[key] = value  # type: ignore[index]
        except Exception:
            logger.exception("could not copy baggage onto a log record")

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
