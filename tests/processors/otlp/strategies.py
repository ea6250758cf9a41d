"""Hypothesis strategies for OTLP export requests, some of their values seeded with PII."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from max_otel.processors.otlp.anyvalue import fill_any_value

PII_VALUES = (
    "+44 20 7946 0958",
    "+1 415 555 0123",
    "alex.morgan@example.com",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    "4111 1111 1111 1111",
    "https://bob:s3cret@api.example.com/v1/items?sig=abc123",
    "https://bob\u00a0x:s3cret@api.example.com/v1",  # RE2's \s is ASCII: not a blank there
    '[ "+44 20 7946 0958" ]',  # JSON in a string: parsed, not scrubbed as text
    "SELECT * FROM users WHERE email = 'bob@example.com'",
    "sk_live_51H8abcdefghijklmnopqrstuv",
)
KEYS = (
    "http.route",
    "conversation_id",
    "team_id",
    "password",
    "user.phone",
    "customer_email",
    "message.content",
    "exception.message",
    "url.full",
    "db.query.text",
    "drop.me",
    "note",
    "redaction.count",
    "authorization",
)

_words = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=12)
text = st.one_of(
    _words,
    st.builds(lambda a, pii, b: f"{a} {pii} {b}", _words, st.sampled_from(PII_VALUES), _words),
    st.sampled_from(PII_VALUES),
)
scalar = st.one_of(
    text,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=8),
)
value: st.SearchStrategy[Any] = st.recursive(
    scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    ),
    max_leaves=6,
)
attributes = st.lists(st.tuples(st.sampled_from(KEYS), value), max_size=5)


def _fill(target: Any, pairs: list[tuple[str, Any]]) -> None:
    for key, item in pairs:
        pair: KeyValue = target.add(key=key)
        fill_any_value(pair.value, item)


@st.composite
def trace_requests(draw: st.DrawFn) -> bytes:
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        resource_spans = request.resource_spans.add()
        _fill(resource_spans.resource.attributes, draw(attributes))
        for _ in range(draw(st.integers(0, 2))):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.name = draw(_words)
            _fill(scope_spans.scope.attributes, draw(attributes))
            for _ in range(draw(st.integers(0, 4))):
                span = scope_spans.spans.add()
                span.trace_id = draw(st.binary(min_size=16, max_size=16))
                span.span_id = draw(st.binary(min_size=8, max_size=8))
                span.name = draw(text)
                span.start_time_unix_nano = draw(st.integers(0, 2**63))
                _fill(span.attributes, draw(attributes))
                for _ in range(draw(st.integers(0, 2))):
                    event = span.events.add(name=draw(text))
                    _fill(event.attributes, draw(attributes))
                for _ in range(draw(st.integers(0, 1))):
                    link = span.links.add(trace_id=draw(st.binary(min_size=16, max_size=16)))
                    _fill(link.attributes, draw(attributes))
                if draw(st.booleans()):
                    span.status.message = draw(text)
                    span.status.code = 2
    return request.SerializeToString()


@st.composite
def log_requests(draw: st.DrawFn) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    _fill(resource_logs.resource.attributes, draw(attributes))
    scope_logs = resource_logs.scope_logs.add()
    _fill(scope_logs.scope.attributes, draw(attributes))
    for _ in range(draw(st.integers(0, 4))):
        record = scope_logs.log_records.add()
        record.severity_number = 9
        if draw(st.booleans()):
            fill_any_value(record.body, draw(value))
        _fill(record.attributes, draw(attributes))
        if draw(st.booleans()):
            record.event_name = draw(text)
    return request.SerializeToString()


@st.composite
def metric_requests(draw: st.DrawFn) -> bytes:
    request = ExportMetricsServiceRequest()
    resource_metrics = request.resource_metrics.add()
    _fill(resource_metrics.resource.attributes, draw(attributes))
    scope_metrics = resource_metrics.scope_metrics.add()
    for index in range(draw(st.integers(0, 5))):
        metric = scope_metrics.metrics.add(name=f"metric.{index}")
        _fill(metric.metadata, draw(attributes))
        kind = draw(
            st.sampled_from(["gauge", "sum", "histogram", "exponential_histogram", "summary"])
        )
        for _ in range(draw(st.integers(0, 3))):
            point = getattr(metric, kind).data_points.add()
            point.time_unix_nano = draw(st.integers(0, 2**63))
            _fill(point.attributes, draw(attributes))
            if kind != "summary" and draw(st.booleans()):
                exemplar = point.exemplars.add()
                exemplar.as_double = 1.5
                _fill(exemplar.filtered_attributes, draw(attributes))
    return request.SerializeToString()
