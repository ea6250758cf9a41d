"""Reference walker: decode the whole request, give every piece to the engine, encode it again.

It is slow and obviously complete, which is its job: the property tests check that the fast
path (:mod:`max_otel.processors.otlp.fast`) returns the same message for the same request::

    result = reference_redact_traces(redactor, request_bytes)
    result.data, result.items, result.changed_items, result.hits

What it covers, per signal: resource and scope attributes; span name, attributes, status
message, event names and attributes, link attributes; log body (any depth), attributes and
event name; metric metadata and the attributes of every data point of every metric type,
including exemplars' filtered attributes. Each changed resource, scope, span, log record,
metric (metadata) or data point gets a ``redaction.count`` attribute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import (
    DROPPED,
    REDACTION_COUNT_KEY,
    RedactionEngine,
    counted_key_value,
    redact_body,
    redact_key_value,
    redact_text_field,
)
from max_otel.processors.otlp.result import RedactionResult

_DATA_POINT_KINDS = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


class _Walk:
    """One request's walk: the engine, the batch's hits and item counts."""

    def __init__(self, engine: RedactionEngine) -> None:
        self.engine = engine
        self.hits: Counter[str] = Counter()
        self.items = 0
        self.changed_items = 0

    def attributes(self, attributes: Any, hits: Counter[str]) -> bool:
        changed = False
        index = 0
        while index < len(attributes):
            result = redact_key_value(self.engine, attributes[index], hits)
            if result is DROPPED:
                del attributes[index]
                changed = True
                continue
            if result is not None:
                attributes[index].CopyFrom(result)
                changed = True
            index += 1
        return changed

    def text(self, message: Message, field: str, hits: Counter[str]) -> bool:
        redacted = redact_text_field(self.engine, getattr(message, field), hits)
        if redacted is None:
            return False
        setattr(message, field, redacted)
        return True

    def finish_item(self, changed: bool, attributes: Any, hits: Counter[str]) -> None:
        """Count the item; on a change add ``redaction.count`` and merge its hits."""
        if not changed:
            return
        self.changed_items += 1
        self.hits.update(hits)
        for pair in attributes:
            if pair.key == REDACTION_COUNT_KEY:
                pair.CopyFrom(counted_key_value(pair, hits))
                return
        attributes.append(counted_key_value(None, hits))

    def attributes_item(self, attributes: Any) -> None:
        """A resource, a scope or a metric's metadata: just attributes."""
        hits: Counter[str] = Counter()
        self.finish_item(self.attributes(attributes, hits), attributes, hits)

    def span(self, span: Any) -> None:
        hits: Counter[str] = Counter()
        changed = self.text(span, "name", hits)
        changed |= self.attributes(span.attributes, hits)
        for event in span.events:
            changed |= self.text(event, "name", hits)
            changed |= self.attributes(event.attributes, hits)
        for link in span.links:
            changed |= self.attributes(link.attributes, hits)
        if span.HasField("status"):
            changed |= self.text(span.status, "message", hits)
        self.finish_item(changed, span.attributes, hits)

    def log_record(self, record: Any) -> None:
        hits: Counter[str] = Counter()
        changed = False
        if record.HasField("body"):
            body = redact_body(self.engine, record.body, hits)
            if body is DROPPED:
                record.ClearField("body")
                changed = True
            elif body is not None:
                record.body.CopyFrom(body)
                changed = True
        changed |= self.attributes(record.attributes, hits)
        changed |= self.text(record, "event_name", hits)
        self.finish_item(changed, record.attributes, hits)

    def metric(self, metric: Any) -> None:
        self.attributes_item(metric.metadata)
        kind = metric.WhichOneof("data")
        if kind not in _DATA_POINT_KINDS:
            return
        for point in getattr(metric, kind).data_points:
            hits: Counter[str] = Counter()
            changed = self.attributes(point.attributes, hits)
            for exemplar in getattr(point, "exemplars", ()):
                changed |= self.attributes(exemplar.filtered_attributes, hits)
            self.finish_item(changed, point.attributes, hits)


def _run(
    engine: RedactionEngine,
    data: bytes,
    request_type: type[Message],
    visit: Callable[[_Walk, Any], None],
) -> RedactionResult:
    try:
        request: Any = request_type.FromString(data)
    except (DecodeError, RecursionError) as error:
        raise OtlpDecodeError(f"not a valid {request_type.__name__}: {error}") from error
    walk = _Walk(engine)
    visit(walk, request)
    return RedactionResult(
        data=request.SerializeToString(),
        items=walk.items,
        changed_items=walk.changed_items,
        hits=walk.hits,
    )


def _visit_traces(walk: _Walk, request: Any) -> None:
    for resource_spans in request.resource_spans:
        walk.attributes_item(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            walk.attributes_item(scope_spans.scope.attributes)
            for span in scope_spans.spans:
                walk.items += 1
                walk.span(span)


def _visit_logs(walk: _Walk, request: Any) -> None:
    for resource_logs in request.resource_logs:
        walk.attributes_item(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            walk.attributes_item(scope_logs.scope.attributes)
            for record in scope_logs.log_records:
                walk.items += 1
                walk.log_record(record)


def _visit_metrics(walk: _Walk, request: Any) -> None:
    for resource_metrics in request.resource_metrics:
        walk.attributes_item(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            walk.attributes_item(scope_metrics.scope.attributes)
            for metric in scope_metrics.metrics:
                walk.items += 1
                walk.metric(metric)


def reference_redact_traces(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportTraceServiceRequest``; raise ``OtlpDecodeError`` if invalid."""
    return _run(engine, data, ExportTraceServiceRequest, _visit_traces)


def reference_redact_logs(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportLogsServiceRequest``; raise ``OtlpDecodeError`` if invalid."""
    return _run(engine, data, ExportLogsServiceRequest, _visit_logs)


def reference_redact_metrics(engine: RedactionEngine, data: bytes) -> RedactionResult:
    """Redact a serialized ``ExportMetricsServiceRequest``; raise ``OtlpDecodeError`` if bad."""
    return _run(engine, data, ExportMetricsServiceRequest, _visit_metrics)
