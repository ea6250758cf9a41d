"""OTLP protobuf records flattened into small dataclasses, for assertions in tests.

Attribute values become Python values (lists for arrays, dicts for key-value lists), ids become
lowercase hex, enums become their short names::

    span = span_record(proto_span, resource={"service.name": "core-api"}, scope="x")
    span.kind == "SERVER"; span.attributes["http.route"] == "/ping"
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value (lists for arrays, dicts for key-value lists)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_dict(attributes: Any) -> dict[str, Any]:
    """A repeated ``KeyValue`` field as a dict."""
    pairs: list[KeyValue] = list(attributes)
    return {pair.key: any_value(pair.value) for pair in pairs}


def hex_or_none(raw: bytes) -> str | None:
    """Lowercase hex of an id, or None when it is empty or all zeros."""
    return raw.hex() if raw and any(raw) else None


@dataclass(frozen=True)
class ReceivedEvent:
    """A span event."""

    name: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class ReceivedSpan:
    """A span with its resource; ids are lowercase hex, ``parent_span_id`` None for roots."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    kind: str  # SERVER, CLIENT, INTERNAL, PRODUCER, CONSUMER
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    status_code: str  # UNSET, OK, ERROR
    status_message: str
    events: tuple[ReceivedEvent, ...]
    links: tuple[tuple[str, str, dict[str, Any]], ...]  # (trace_id, span_id, attributes)
    start_time_unix_nano: int
    end_time_unix_nano: int

    @property
    def service_name(self) -> str | None:
        """The resource's ``service.name``."""
        name = self.resource.get("service.name")
        return None if name is None else str(name)


@dataclass(frozen=True)
class ReceivedLogRecord:
    """A log record with its resource; ``body`` as a Python value."""

    body: Any
    severity_text: str
    severity_number: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str
    trace_id: str | None
    span_id: str | None
    event_name: str
    time_unix_nano: int

    @property
    def service_name(self) -> str | None:
        """The resource's ``service.name``."""
        name = self.resource.get("service.name")
        return None if name is None else str(name)


@dataclass(frozen=True)
class ReceivedPoint:
    """A metric data point: ``value`` for sums and gauges, ``count``/``sum``/buckets else."""

    attributes: dict[str, Any]
    value: float | int | None = None
    count: int | None = None
    sum: float | None = None
    bucket_counts: tuple[int, ...] = ()
    explicit_bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class ReceivedMetric:
    """A metric with its data points, one entry per metric per export request."""

    name: str
    description: str
    unit: str
    type: str  # sum, gauge, histogram, exponential_histogram, summary (or empty)
    points: tuple[ReceivedPoint, ...]
    resource: dict[str, Any]
    scope: str

    @property
    def service_name(self) -> str | None:
        """The resource's ``service.name``."""
        name = self.resource.get("service.name")
        return None if name is None else str(name)


def span_record(span: Span, resource: dict[str, Any], scope: str) -> ReceivedSpan:
    """The span as a :class:`ReceivedSpan`."""
    return ReceivedSpan(
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=hex_or_none(span.parent_span_id),
        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        attributes=attributes_dict(span.attributes),
        resource=resource,
        scope=scope,
        status_code=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
        status_message=span.status.message,
        events=tuple(
            ReceivedEvent(event.name, attributes_dict(event.attributes)) for event in span.events
        ),
        links=tuple(
            (link.trace_id.hex(), link.span_id.hex(), attributes_dict(link.attributes))
            for link in span.links
        ),
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
    )


def _points(metric: Metric) -> tuple[str, tuple[ReceivedPoint, ...]]:
    kind = metric.WhichOneof("data")
    if kind is None:
        return "empty", ()
    data = getattr(metric, kind)
    points: list[ReceivedPoint] = []
    for point in data.data_points:
        attributes = attributes_dict(point.attributes)
        if kind in ("sum", "gauge"):
            number = point.WhichOneof("value")
            points.append(ReceivedPoint(attributes, value=getattr(point, number)))
        elif kind == "histogram":
            points.append(
                ReceivedPoint(
                    attributes,
                    count=point.count,
                    sum=point.sum,
                    bucket_counts=tuple(point.bucket_counts),
                    explicit_bounds=tuple(point.explicit_bounds),
                )
            )
        else:
            points.append(ReceivedPoint(attributes, count=point.count, sum=point.sum))
    return kind, tuple(points)


def log_record(record: LogRecord, resource: dict[str, Any], scope: str) -> ReceivedLogRecord:
    """The log record as a :class:`ReceivedLogRecord`."""
    return ReceivedLogRecord(
        body=any_value(record.body),
        severity_text=record.severity_text,
        severity_number=record.severity_number,
        attributes=attributes_dict(record.attributes),
        resource=resource,
        scope=scope,
        trace_id=hex_or_none(record.trace_id),
        span_id=hex_or_none(record.span_id),
        event_name=record.event_name,
        time_unix_nano=record.time_unix_nano,
    )


def metric_record(metric: Metric, resource: dict[str, Any], scope: str) -> ReceivedMetric:
    """The metric as a :class:`ReceivedMetric`."""
    kind, points = _points(metric)
    return ReceivedMetric(
        name=metric.name,
        description=metric.description,
        unit=metric.unit,
        type=kind,
        points=points,
        resource=resource,
        scope=scope,
    )
