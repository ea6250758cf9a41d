"""What the OTLP walkers do to requests: PII removed everywhere, the rest untouched, counted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from max_otel.processors.otlp import (
    REDACTION_COUNT_KEY,
    OtlpDecodeError,
    RedactionEngine,
    redact_logs,
    redact_metrics,
    redact_traces,
    reference_redact_traces,
)
from max_otel.processors.otlp.anyvalue import fill_any_value, to_any_value, to_python
from tests.processors.otlp.engines import engine_named

pytestmark = pytest.mark.unit

PHONE = "+44 20 7946 0958"
EMAIL = "alex.morgan@example.com"


@pytest.fixture(params=["double", "real", "real-python-walk"])
def engine(request: pytest.FixtureRequest) -> Iterator[RedactionEngine]:
    with engine_named(request.param) as engine:
        yield engine


def _attributes(attributes: Any) -> dict[str, object]:
    return {pair.key: to_python(pair.value) for pair in attributes}


def _set(attributes: Any, **values: object) -> None:
    for key, value in values.items():
        fill_any_value(attributes.add(key=key.replace("__", ".")).value, value)


def _trace_request() -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    _set(resource_spans.resource.attributes, service__name="core-api", note=f"owner {EMAIL}")
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "max.routing"
    _set(scope_spans.scope.attributes, note=f"tuned by {EMAIL}")
    span = scope_spans.spans.add(name=f"call {PHONE}")
    span.trace_id = b"\x01" * 16
    span.span_id = b"\x02" * 8
    _set(span.attributes, http__route="/v1/conversations/{id}", note=f"customer {PHONE}")
    event = span.events.add(name=f"retry {PHONE}")
    _set(
        event.attributes,
        exception__message=f"cannot reach {PHONE}",
        exception__stacktrace=f'File "x.py", line 3\nValueError: {EMAIL}',
    )
    link = span.links.add(trace_id=b"\x03" * 16)
    _set(link.attributes, note=f"linked from {EMAIL}")
    span.status.message = f"failed for {PHONE}"
    span.status.code = 2
    clean = scope_spans.spans.add(name="GET /health")
    _set(clean.attributes, http__route="/health")
    return request


def test_pii_in_every_span_location_is_removed(engine: RedactionEngine) -> None:
    result = redact_traces(engine, _trace_request().SerializeToString())
    assert PHONE.encode() not in result.data
    assert EMAIL.encode() not in result.data
    redacted = ExportTraceServiceRequest.FromString(result.data)
    resource_spans = redacted.resource_spans[0]
    assert _attributes(resource_spans.resource.attributes)["service.name"] == "core-api"
    assert resource_spans.scope_spans[0].scope.name == "max.routing"
    span, clean = resource_spans.scope_spans[0].spans
    assert span.name.startswith("call ") and span.status.message.startswith("failed for ")
    assert _attributes(span.attributes)["http.route"] == "/v1/conversations/{id}"
    assert span.events[0].name.startswith("retry ")
    assert span.trace_id == b"\x01" * 16 and span.status.code == 2
    assert clean == _trace_request().resource_spans[0].scope_spans[0].spans[1]


def test_each_changed_item_gets_a_redaction_count(engine: RedactionEngine) -> None:
    result = redact_traces(engine, _trace_request().SerializeToString())
    redacted = ExportTraceServiceRequest.FromString(result.data).resource_spans[0]
    span, clean = redacted.scope_spans[0].spans
    span_count = _attributes(span.attributes)[REDACTION_COUNT_KEY]
    assert isinstance(span_count, int) and span_count >= 7
    assert REDACTION_COUNT_KEY not in _attributes(clean.attributes)
    assert _attributes(redacted.resource.attributes)[REDACTION_COUNT_KEY] == 1
    assert _attributes(redacted.scope_spans[0].scope.attributes)[REDACTION_COUNT_KEY] == 1
    assert result.items == 2
    assert result.changed_items == 3
    assert sum(result.hits.values()) == span_count + 2


def test_an_existing_redaction_count_is_added_to(engine: RedactionEngine) -> None:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add(name="x")
    _set(span.attributes, redaction__count=3, note=f"call {PHONE}")
    result = redact_traces(engine, request.SerializeToString())
    redacted = ExportTraceServiceRequest.FromString(result.data)
    attributes = redacted.resource_spans[0].scope_spans[0].spans[0].attributes
    assert [pair.key for pair in attributes] == [REDACTION_COUNT_KEY, "note"]
    assert _attributes(attributes)[REDACTION_COUNT_KEY] == 4


def test_a_clean_request_is_forwarded_as_the_very_same_bytes(engine: RedactionEngine) -> None:
    request = _trace_request()
    del request.resource_spans[0].scope_spans[0].spans[0]
    del request.resource_spans[0].resource.attributes[1]
    del request.resource_spans[0].scope_spans[0].scope.attributes[0]
    data = request.SerializeToString()
    result = redact_traces(engine, data)
    assert result.data is data
    assert result.changed_items == 0 and result.items == 1


def test_log_bodies_are_redacted_at_any_depth(engine: RedactionEngine) -> None:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    plain = scope_logs.log_records.add(severity_text="INFO")
    plain.body.string_value = f"conversation assigned, customer {PHONE}"
    nested = scope_logs.log_records.add(event_name="message.failed")
    fill_any_value(
        nested.body,
        {"event": "message.failed", "detail": {"attempts": [1, {"note": f"to {PHONE}"}]}},
    )
    _set(nested.attributes, conversation_id="c-42", note=f"mail {EMAIL}")
    clean = scope_logs.log_records.add()
    clean.body.string_value = "heartbeat"
    result = redact_logs(engine, request.SerializeToString())
    assert PHONE.encode() not in result.data and EMAIL.encode() not in result.data
    records = ExportLogsServiceRequest.FromString(result.data).resource_logs[0]
    plain_out, nested_out, clean_out = records.scope_logs[0].log_records
    assert str(to_python(plain_out.body)).startswith("conversation assigned, customer ")
    body = to_python(nested_out.body)
    assert isinstance(body, dict) and body["event"] == "message.failed"
    assert _attributes(nested_out.attributes)["conversation_id"] == "c-42"
    assert clean_out == clean
    assert result.items == 3 and result.changed_items == 2


def test_metric_data_points_of_every_type_and_their_exemplars_are_redacted(
    engine: RedactionEngine,
) -> None:
    request = ExportMetricsServiceRequest()
    scope_metrics = request.resource_metrics.add().scope_metrics.add()
    kinds = ["gauge", "sum", "histogram", "exponential_histogram", "summary"]
    for kind in kinds:
        metric = scope_metrics.metrics.add(name=f"max.{kind}")
        point = getattr(metric, kind).data_points.add(time_unix_nano=5)
        _set(point.attributes, team_id="sales", note=f"from {PHONE}")
        if kind != "summary":
            exemplar = point.exemplars.add(as_double=2.0)
            _set(exemplar.filtered_attributes, note=f"by {EMAIL}")
        getattr(metric, kind).data_points.add(time_unix_nano=6)
    result = redact_metrics(engine, request.SerializeToString())
    assert PHONE.encode() not in result.data and EMAIL.encode() not in result.data
    metrics = ExportMetricsServiceRequest.FromString(result.data).resource_metrics[0]
    for metric, kind in zip(metrics.scope_metrics[0].metrics, kinds, strict=True):
        points = getattr(metric, kind).data_points
        assert len(points) == 2
        attributes = _attributes(points[0].attributes)
        assert attributes["team_id"] == "sales" and REDACTION_COUNT_KEY in attributes
        assert not points[1].attributes
    assert result.items == 5 and result.changed_items == 5


@pytest.mark.parametrize(
    "data",
    [b"\xff\xff\xff", b"\x0a\x05ab", b"\x0a\x03\x12\x09xx", b"\x0b", b"\x00\x01"],
    ids=["overlong-varint", "truncated", "nested-overrun", "group", "field-zero"],
)
def test_malformed_bytes_raise_a_decode_error(data: bytes, engine: RedactionEngine) -> None:
    with pytest.raises(OtlpDecodeError):
        redact_traces(engine, data)
    with pytest.raises(OtlpDecodeError):
        reference_redact_traces(engine, data)


def test_any_value_round_trip_keeps_types_and_nesting() -> None:
    value = {"s": "x", "b": True, "i": -(2**63), "f": 1.5, "y": b"\x00", "l": [1, {"k": None}]}
    assert to_python(to_any_value(value)) == value
    assert to_any_value(2**70).string_value == str(2**70)
    assert to_python(AnyValue()) is None


def test_public_api_is_what_is_documented() -> None:
    from max_otel.processors import otlp

    assert otlp.__all__ == [
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
