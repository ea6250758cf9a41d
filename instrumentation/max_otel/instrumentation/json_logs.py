"""One JSON object per log record, in the spec's shape, with PII redacted.

::

    {"timestamp": "2026-01-05T12:00:00.123Z", "level": "INFO", "service": "core-api",
     "event": "conversation.assigned", "logger": "max_service.tasks",
     "conversation_id": "6f1c...", "assigned_to": "...", "phone": "phone:k1:9f2c4e1a0b3d5c7e",
     "duration_ms": 45, "trace_id": "4bf9...", "span_id": "00f0..."}

``event`` is the record's message (events are logged with their name as the message:
``logger.info("conversation.assigned", extra={...})``, or ``emit(...)``); the ``extra``
fields follow; ``conversation_id`` (and the other allowlisted baggage keys) come from baggage
when the call did not pass them; ``trace_id``/``span_id`` are those of the current span. The
message and every field go through the redactor first: a phone number becomes its keyed
pseudonym (the same one the spans get), message content its length, secrets ``***``,
whether the value was a field or inside the message text. An exception's traceback is
redacted too::

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLogFormatter("core-api", redactor, BaggagePolicy()))

``format`` never raises: if building the line fails, a line with ``event`` set to
``log.format_error`` and no record content is returned instead (fail closed).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from opentelemetry import trace

from max_otel.instrumentation.baggage_policy import BaggagePolicy

if TYPE_CHECKING:
    from max_otel.processors.in_process import AttributeRedactor

RESERVED_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "otelSpanID",
    "otelTraceID",
    "otelTraceSampled",
    "otelServiceName",
    "otel.event.name",
    "event.name",
}
"""``LogRecord`` attributes that are not ``extra`` fields."""

OUTPUT_KEYS = ("timestamp", "level", "service", "event", "logger", "trace_id", "span_id")
"""Keys the formatter writes itself; an ``extra`` field of the same name is written with a
trailing underscore (``event_``)."""

_MAX_DEPTH = 8


def iso_timestamp(created: float) -> str:
    """``2026-01-05T12:00:00.123Z`` for a ``time.time()`` value."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plain_value(value: object, depth: int = 0) -> object:
    """``value`` as JSON-native data (str, int, float, bool, None, list, dict); anything
    else becomes ``str(value)``, before redaction so nothing escapes it."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): plain_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_value(item, depth + 1) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The ``extra`` fields of ``record`` (attributes a plain record does not have)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in RESERVED_RECORD_ATTRIBUTES and not key.startswith("_")
    }


class JsonLogFormatter(logging.Formatter):
    """Formats records as redacted JSON lines (see the module docstring)."""

    def __init__(
        self,
        service: str,
        redactor: AttributeRedactor,
        policy: BaggagePolicy | None = None,
    ) -> None:
        super().__init__()
        self._service = service
        self._redactor = redactor
        self._policy = policy or BaggagePolicy()
        self._drop = getattr(redactor, "DROP", object())

    def format(self, record: logging.LogRecord) -> str:
        try:
            return json.dumps(self._document(record), ensure_ascii=False, default=str)
        except Exception:
            return json.dumps(
                {
                    "timestamp": iso_timestamp(record.created),
                    "level": record.levelname,
                    "service": self._service,
                    "event": "log.format_error",
                    "logger": record.name,
                }
            )

    def _document(self, record: logging.LogRecord) -> dict[str, object]:
        hits: Counter[str] = Counter()
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        document: dict[str, object] = {
            "timestamp": iso_timestamp(record.created),
            "level": record.levelname,
            "service": self._service,
            "event": self._redactor.redact_text(message, hits),
            "logger": record.name,
        }
        for key, value in extra_fields(record).items():
            redacted = self._redactor.redact_value(key, plain_value(value), hits)
            if redacted is self._drop:
                continue
            document[f"{key}_" if key in OUTPUT_KEYS else key] = redacted
        for key, value in self._policy.promoted().items():
            if document.get(key) is None:
                document[key] = value
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            document["trace_id"] = trace.format_trace_id(span_context.trace_id)
            document["span_id"] = trace.format_span_id(span_context.span_id)
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            document["exception"] = self._redactor.redact_text(text, hits)
        elif record.exc_text:
            document["exception"] = self._redactor.redact_text(record.exc_text, hits)
        if record.stack_info:
            document["stack"] = self._redactor.redact_text(record.stack_info, hits)
        return document
