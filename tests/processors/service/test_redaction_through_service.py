"""Real OpenTelemetry SDK exporters -> ``max-otel processor`` -> a real OTLP receiver.

PII is seeded in every place the service must look; what reaches the next hop must hold none
of it, everything else unchanged, and the same phone number must get the same pseudonym in
spans and logs and across two runs of the service.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

from max_otel.processors.otlp.anyvalue import to_python
from tests.processors.service.next_hop import NextHop
from tests.processors.service.processor_process import ProcessorProcess

pytestmark = pytest.mark.integration

PHONE = "+44 20 7946 0958"
EMAIL = "alex.morgan@example.com"
CARD = "4111 1111 1111 1111"
SEEDED = (PHONE, EMAIL, CARD, "hunter2", "7946 0958")
PSEUDONYM = re.compile(r"phone:k1:[0-9a-f]{16}")


def _attributes(attributes: Any) -> dict[str, object]:
    return {pair.key: to_python(pair.value) for pair in attributes}


def _send_spans(endpoint: str) -> None:
    resource = Resource.create({"service.name": "core-api", "deployment.owner": f"ops {EMAIL}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = provider.get_tracer("max.routing", "1.0", attributes={"scope.note": f"by {EMAIL}"})
    linked = SpanContext(trace_id=7, span_id=9, is_remote=True)
    with tracer.start_as_current_span(
        f"notify {PHONE}",
        links=[Link(linked, {"link.note": f"from {PHONE}"})],
        attributes={
            "conversation_id": "c-1234",
            "http.route": "/v1/conversations/{conversation_id}",
            "http.response.status_code": 500,
            "customer.note": f"call back on {PHONE}",
            "password": "hunter2",
            "payment.info": f"card {CARD}",
        },
    ) as span:
        span.add_event(f"retry for {PHONE}", {"attempt": 2, "detail": f"mail {EMAIL}"})
        try:
            raise ValueError(f"cannot deliver to {PHONE}")
        except ValueError as error:
            span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"failed for {PHONE}"))
    with tracer.start_as_current_span("GET /health", attributes={"team_id": "sales"}):
        pass
    provider.shutdown()


def _send_logs(endpoint: str) -> None:
    provider = LoggerProvider(resource=Resource.create({"service.name": "core-api"}))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    logger = provider.get_logger("max.messages")
    logger.emit(
        body=f"message.failed for customer {PHONE}",
        severity_number=SeverityNumber.ERROR,
        attributes={"conversation_id": "c-1234", "customer.contact": f"mail {EMAIL}"},
    )
    logger.emit(
        body={"event": "message.received", "sender": {"note": f"from {PHONE}", "n": [1, 2]}},
        severity_number=SeverityNumber.INFO,
        attributes={"team_id": "sales"},
    )
    provider.shutdown()


def _send_metrics(endpoint: str) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=3_600_000
    )
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({}))
    meter = provider.get_meter("max.metrics")
    meter.create_counter("messages").add(3, {"channel": "whatsapp", "note": f"to {PHONE}"})
    meter.create_histogram("latency").record(0.2, {"team_id": "sales", "note": f"by {EMAIL}"})
    provider.shutdown()


@pytest.fixture
def next_hop() -> Iterator[NextHop]:
    with NextHop() as hop:
        yield hop


def _run_once(next_hop: NextHop) -> None:
    with ProcessorProcess(forward=next_hop.url) as processor:
        _send_spans(processor.endpoint)
        _send_logs(processor.endpoint)
        _send_metrics(processor.endpoint)
    assert processor.returncode == 0


def test_pii_from_sdk_exporters_never_reaches_the_next_hop(next_hop: NextHop) -> None:
    _run_once(next_hop)
    requests: list[Any] = [*next_hop.traces, *next_hop.logs, *next_hop.metrics]
    received = b"".join(request.SerializeToString() for request in requests)
    for value in SEEDED:
        assert value.encode() not in received, value

    span, health = next_hop.spans()
    attributes = _attributes(span.attributes)
    assert PSEUDONYM.fullmatch(span.name.removeprefix("notify "))
    assert attributes["conversation_id"] == "c-1234"
    assert attributes["http.route"] == "/v1/conversations/{conversation_id}"
    assert attributes["http.response.status_code"] == 500
    assert attributes["password"] == "***"
    assert isinstance(attributes["redaction.count"], int) and attributes["redaction.count"] >= 8
    assert span.status.message.startswith("failed for phone:k1:")
    assert span.events[0].name.startswith("retry for phone:k1:")
    assert _attributes(span.events[0].attributes)["attempt"] == 2
    exception = _attributes(span.events[1].attributes)
    assert str(exception["exception.type"]) == "ValueError"
    assert PSEUDONYM.search(str(exception["exception.message"]))
    assert PSEUDONYM.search(str(_attributes(span.links[0].attributes)["link.note"]))
    assert _attributes(health.attributes) == {"team_id": "sales"}
    resource = _attributes(next_hop.traces[0].resource_spans[0].resource.attributes)
    assert resource["service.name"] == "core-api"
    assert "redaction.count" in resource
    scope = next_hop.traces[0].resource_spans[0].scope_spans[0].scope
    assert scope.name == "max.routing" and scope.version == "1.0"

    failed, received_log = next_hop.log_records()
    assert str(to_python(failed.body)).startswith("message.failed for customer phone:k1:")
    assert _attributes(failed.attributes)["conversation_id"] == "c-1234"
    body = to_python(received_log.body)
    assert isinstance(body, dict) and body["event"] == "message.received"
    assert body["sender"]["n"] == [1, 2]
    assert len(next_hop.metrics) == 1
    points = [
        point
        for metric in next_hop.metrics[0].resource_metrics[0].scope_metrics[0].metrics
        for point in (metric.sum.data_points or metric.histogram.data_points)
    ]
    assert [_attributes(point.attributes).get("redaction.count") for point in points] == [1, 1]
    assert points[0].as_int == 3


def test_a_phone_gets_one_pseudonym_in_spans_logs_and_across_service_runs(
    next_hop: NextHop,
) -> None:
    _run_once(next_hop)
    _run_once(next_hop)
    spans = next_hop.spans()
    records = next_hop.log_records()
    pseudonyms = {span.name.removeprefix("notify ") for span in spans if span.name != "GET /health"}
    pseudonyms |= {
        str(to_python(record.body)).removeprefix("message.failed for customer ")
        for record in records
        if record.body.HasField("string_value")
    }
    assert len(spans) == 4 and len(records) == 4
    assert len(pseudonyms) == 1
    assert PSEUDONYM.fullmatch(pseudonyms.pop())
