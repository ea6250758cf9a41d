"""In-process redaction on the export path: PII never reaches an exporter unredacted.

``RedactingSpanExporter`` and ``RedactingLogRecordExporter`` wrap the real exporters (OTLP) and
hand them redacted copies; the max_otel configurator installs them (spans: unless
``MAX_OTEL_REDACT_SPANS=false``; logs: always)::

    from max_otel.processors.in_process import RedactingSpanExporter

    exporter = RedactingSpanExporter(OTLPSpanExporter(), redactor)
    provider.add_span_processor(BatchSpanProcessor(exporter))
"""

from __future__ import annotations

from max_otel.processors.in_process._redactor import AttributeRedactor
from max_otel.processors.in_process.log_exporter import RedactingLogRecordExporter
from max_otel.processors.in_process.span_exporter import RedactingSpanExporter

__all__ = ["AttributeRedactor", "RedactingLogRecordExporter", "RedactingSpanExporter"]
