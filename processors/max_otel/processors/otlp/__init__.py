"""Walking OTLP export requests and applying the redaction engine to everything in them.

::

    from max_otel.processors.otlp import redact_traces
    result = redact_traces(redactor, request_bytes)   # result.data: the redacted request

``redact_traces`` / ``redact_logs`` / ``redact_metrics`` are the fast path (only suspicious
pieces are decoded); the ``reference_*`` functions decode everything and exist to check the
fast path against.
"""

from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.fast import redact_logs, redact_metrics, redact_traces
from max_otel.processors.otlp.pieces import (
    LOG_BODY_KEY,
    REDACTION_COUNT_KEY,
    RedactionEngine,
)
from max_otel.processors.otlp.reference import (
    reference_redact_logs,
    reference_redact_metrics,
    reference_redact_traces,
)
from max_otel.processors.otlp.result import RedactionResult

__all__ = [
    "LOG_BODY_KEY",
    "REDACTION_COUNT_KEY",
    "OtlpDecodeError",
    "RedactionEngine",
    "RedactionResult",
    "redact_logs",
    "redact_metrics",
    "redact_traces",
    "reference_redact_logs",
    "reference_redact_metrics",
    "reference_redact_traces",
]
