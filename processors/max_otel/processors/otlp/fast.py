"""Fast path: redact a serialized OTLP request without decoding what is clean.

Most batches are mostly clean. upb parses the request with a *shadow* type in which every
span, log record and metric stays bytes (:mod:`max_otel.processors.otlp._shadow`); the
engine's conservative pre-filter sees all of them in one call (``might_contain_pii_many``,
or ``might_contain_pii`` for each with an engine that lacks it), their binary ids and
timestamps left out; only the suspicious ones are parsed, and the pre-filter then sees all
their attributes, names and bodies in one more call; only the suspicious pieces are decoded
and given to the engine (:mod:`max_otel.processors.otlp.pieces`, the same functions the
reference walker uses). Clean items are copied as they came. The walk is in
:mod:`max_otel.processors.otlp._walker`; this module describes the three OTLP requests to
it::

    result = redact_traces(redactor, request_bytes)   # same API as reference_redact_traces

When the compiled walk (:mod:`max_otel.processors.otlp.native`) is installed, it does all
of this instead, calling the same leaves; the walk below is the pure-Python fallback.

Contract: for any request the result is the same message as the reference walker's
(:mod:`max_otel.processors.otlp.reference`), byte for byte when the input is canonically
encoded (fields in number order, as every OTLP SDK writes them); a request with nothing to
redact comes back as the very same bytes object. A request that is not a valid encoding of
its type (checked whole, before anything is walked) raises ``OtlpDecodeError``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as metrics
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2

from max_otel.processors.otlp._leaves import ATTRIBUTE, BODY, TEXT
from max_otel.processors.otlp._shadow import Leaf, Shape
from max_otel.processors.otlp._walker import Walk
from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.native import CompiledWalks
from max_otel.processors.otlp.pieces import RedactionEngine
from max_otel.processors.otlp.result import RedactionResult

_RESOURCE = Shape(Resource, {"attributes": ATTRIBUTE}, count_field="attributes")
_SCOPE = Shape(InstrumentationScope, {"attributes": ATTRIBUTE}, count_field="attributes")


def _containers(
    signal: str, request: Any, resource_level: Any, scope_level: Any, items: str, item: Shape
) -> Shape:
    """request -> resource_<signal> -> scope_<signal> -> ``items``, walked whatever their
    bytes (``signal``: spans, logs or metrics)."""
    scope = Shape(scope_level, {"scope": _SCOPE, items: item}, prefilter=False)
    resource = Shape(
        resource_level, {"resource": _RESOURCE, f"scope_{signal}": scope}, prefilter=False
    )
    return Shape(request, {f"resource_{signal}": resource}, prefilter=False)


_SPAN = Shape(
    trace_pb2.Span,
    {
        "name": TEXT,
        "attributes": ATTRIBUTE,
        "events": Shape(
            trace_pb2.Span.Event, {"name": TEXT, "attributes": ATTRIBUTE}, prefilter=False
        ),
        "links": Shape(trace_pb2.Span.Link, {"attributes": ATTRIBUTE}, prefilter=False),
        "status": Shape(trace_pb2.Status, {"message": TEXT}, prefilter=False),
    },
    count_field="attributes",
    counted=True,
)
_TRACES = _containers(
    "spans",
    trace_service_pb2.ExportTraceServiceRequest,
    trace_pb2.ResourceSpans,
    trace_pb2.ScopeSpans,
    "spans",
    _SPAN,
)

_LOG_RECORD = Shape(
    logs_pb2.LogRecord,
    {"body": BODY, "attributes": ATTRIBUTE, "event_name": TEXT},
    count_field="attributes",
    counted=True,
)
_LOGS = _containers(
    "logs",
    logs_service_pb2.ExportLogsServiceRequest,
    logs_pb2.ResourceLogs,
    logs_pb2.ScopeLogs,
    "log_records",
    _LOG_RECORD,
)


def _points(point: Any, attributes: str, exemplars: str | None) -> Shape:
    """A metric type's data points: each one an item, pre-filtered on its own."""
    fields: dict[str, Leaf | Shape] = {attributes: ATTRIBUTE}
    if exemplars is not None:
        fields[exemplars] = Shape(
            metrics.Exemplar, {"filtered_attributes": ATTRIBUTE}, prefilter=False
        )
    return Shape(point, fields, count_field=attributes)


def _data(kind: Any, point: Shape) -> Shape:
    return Shape(kind, {"data_points": point}, prefilter=False)


_NUMBER_POINT = _points(metrics.NumberDataPoint, "attributes", "exemplars")
_METRIC = Shape(
    metrics.Metric,
    {
        "gauge": _data(metrics.Gauge, _NUMBER_POINT),
        "sum": _data(metrics.Sum, _NUMBER_POINT),
        "histogram": _data(
            metrics.Histogram, _points(metrics.HistogramDataPoint, "attributes", "exemplars")
        ),
        "exponential_histogram": _data(
            metrics.ExponentialHistogram,
            _points(metrics.ExponentialHistogramDataPoint, "attributes", "exemplars"),
        ),
        "summary": _data(metrics.Summary, _points(metrics.SummaryDataPoint, "attributes", None)),
        "metadata": ATTRIBUTE,
    },
    count_field="metadata",
    counted=True,
)
_METRICS = _containers(
    "metrics",
    metrics_service_pb2.ExportMetricsServiceRequest,
    metrics.ResourceMetrics,
    metrics.ScopeMetrics,
    "metrics",
    _METRIC,
)


COMPILED_WALKS = CompiledWalks((_TRACES, _LOGS, _METRICS))
"""The compiled walk of the three requests (``COMPILED_WALKS.serves(engine)``: in use)."""
_REQUEST_TYPES: dict[int, Any] = {
    id(_TRACES): trace_service_pb2.ExportTraceServiceRequest,
    id(_LOGS): logs_service_pb2.ExportLogsServiceRequest,
    id(_METRICS): metrics_service_pb2.ExportMetricsServiceRequest,
}


def _run(shape: Shape, engine: RedactionEngine, data: bytes) -> RedactionResult:
    compiled = COMPILED_WALKS.redact(shape, engine, data)
    if compiled is not None:
        return compiled
    request_type = _REQUEST_TYPES[id(shape)]
    try:  # the whole request, as the compiled walk does, before walking its pieces
        request_type.FromString(data)
    except (DecodeError, RecursionError) as error:
        raise OtlpDecodeError(f"invalid {request_type.__name__}: {error}") from error
    walk = Walk(engine)
    redacted = walk.run(shape, data)
    return RedactionResult(
        data=redacted, items=walk.items, changed_items=walk.changed_items, hits=walk.hits
    )


def redact_traces(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportTraceServiceRequest`` (see the module contract)."""
    return _run(_TRACES, engine, data)


def redact_logs(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportLogsServiceRequest`` (see the module contract)."""
    return _run(_LOGS, engine, data)


def redact_metrics(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportMetricsServiceRequest`` (see the module contract)."""
    return _run(_METRICS, engine, data)
