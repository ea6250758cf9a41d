"""A log record exporter that redacts copies of the records before the real exporter sees them.

``RedactingLogRecordExporter(inner, redactor)`` sits between the batch log record processor
and the OTLP exporter. For each record it redacts the body (free text such as
``"sent to +5511987654321"``; a structured body value by value), the attributes (the
``extra`` fields of a ``logging`` call: ``phone`` becomes its pseudonym, ``message_content``
its length, tokens and passwords are masked) and the resource attributes. A record nothing
matched in is passed on as is; the others as copies, so other processors see the original::

    exporter = RedactingLogRecordExporter(OTLPLogExporter(), redactor)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))

``export`` never raises: a record whose redaction fails unexpectedly is dropped (fail closed)
and counted in ``dropped_records``, with one logged exception.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from max_otel.processors.in_process._redactor import AttributeRedactor, redacted_attributes
from max_otel.processors.in_process.span_exporter import ResourceRedaction

logger = logging.getLogger(__name__)

BODY_KEY = "log.record"
"""Key a structured body (a map or a list) is redacted under: deliberately not a sensitive
key (``body`` is one: its value would become its length), so each nested key gets its own
decision and each string is scanned."""


class RedactingLogRecordExporter(LogRecordExporter):
    """Redacts every log record, then delegates to ``inner``."""

    def __init__(self, inner: LogRecordExporter, redactor: AttributeRedactor) -> None:
        self._inner = inner
        self._redactor = redactor
        self._resources = ResourceRedaction(redactor)
        self.dropped_records = 0
        self.redactions: Counter[str] = Counter()
        self._failure_logged = False

    @property
    def inner(self) -> LogRecordExporter:
        """The exporter redacted records are handed to."""
        return self._inner

    def redact(self, readable: ReadableLogRecord, hits: Counter[str]) -> ReadableLogRecord:
        """``readable`` itself if nothing in it needs redaction, else a redacted copy."""
        record = readable.log_record
        before = sum(hits.values())
        body: object = record.body
        if isinstance(body, str):
            body = self._redactor.redact_text(body, hits)
        elif body is not None and not isinstance(body, (bool, int, float)):
            body = self._redactor.redact_value(BODY_KEY, body, hits)
            if body is getattr(self._redactor, "DROP", object()):
                body = None
        attributes = redacted_attributes(self._redactor, record.attributes, hits)
        resource = self._resources(readable.resource)
        if sum(hits.values()) == before and resource is readable.resource:
            return readable
        copied = copy.copy(record)
        copied.body = body  # type: ignore[assignment]
        copied.attributes = attributes
        return ReadableLogRecord(
            log_record=copied,
            resource=resource,
            instrumentation_scope=readable.instrumentation_scope,
            limits=readable.limits,
        )

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        hits: Counter[str] = Counter()
        redacted: list[ReadableLogRecord] = []
        for readable in batch:
            try:
                redacted.append(self.redact(readable, hits))
            except Exception:
                self.dropped_records += 1
                if not self._failure_logged:
                    self._failure_logged = True
                    logger.exception("log redaction failed; the record is dropped, not exported")
        self.redactions.update(hits)
        if not redacted:
            return LogRecordExportResult.SUCCESS
        return self._inner.export(redacted)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
