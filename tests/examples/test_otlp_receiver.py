"""The OTLP test receiver, fed by the SDK's real OTLP/gRPC exporters."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.support.otlp_receiver import LOGS, TRACES, OtlpReceiver

pytestmark = pytest.mark.integration

RESOURCE = Resource.create({"service.name": "receiver-test"})


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as otlp:
        yield otlp


def _finished_spans():
    """Two real SDK spans (parent and child) with attributes, an event and an error status."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("receiver.test")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("ids", ["a", "b"])
        parent.set_attribute("count", 3)
        with tracer.start_as_current_span("child") as child:
            child.add_event("retry", {"attempt": 2})
            child.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()
    return memory.get_finished_spans()


def test_spans_arrive_flattened_with_ids_attributes_and_resource(receiver):
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=5)
    assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS

    child, parent = receiver.spans()
    assert parent.parent_span_id is None
    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id and len(parent.trace_id) == 32
    assert parent.kind == "SERVER"
    assert parent.attributes == {"ids": ["a", "b"], "count": 3}
    assert (child.status_code, child.status_message) == ("ERROR", "boom")
    assert child.events[0].name == "retry" and child.events[0].attributes == {"attempt": 2}
    assert parent.service_name == "receiver-test"
    assert parent.scope == "receiver.test"
    assert receiver.traces() == {parent.trace_id: [child, parent]}
    exporter.shutdown()


def test_log_records_and_metrics_arrive(receiver):
    exporter = OTLPLogExporter(endpoint=receiver.endpoint, insecure=True, timeout=5)
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger("receiver.test.logs")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    logger.warning("conversation.assigned", extra={"team_id": "sales"})
    logger.removeHandler(handler)
    provider.shutdown()

    [record] = receiver.wait_for(receiver.log_records)
    assert record.body == "conversation.assigned"
    assert record.severity_text == "WARN"
    assert record.attributes["team_id"] == "sales"
    assert record.service_name == "receiver-test"

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    counter = meter_provider.get_meter("receiver.test").create_counter("conversations_total")
    counter.add(2, {"channel": "whatsapp"})
    metrics_exporter = OTLPMetricExporter(endpoint=receiver.endpoint, insecure=True, timeout=5)
    metrics_exporter.export(reader.get_metrics_data())
    [metric] = receiver.wait_for(receiver.metrics)
    assert (metric.name, metric.type) == ("conversations_total", "sum")
    assert metric.points[0].value == 2
    assert metric.points[0].attributes == {"channel": "whatsapp"}
    meter_provider.shutdown()
    metrics_exporter.shutdown()


def test_error_status_fails_the_export_and_keeps_the_request_out_of_the_records(receiver):
    receiver.respond_with(grpc.StatusCode.INVALID_ARGUMENT, "no thanks")
    exporter = OTLPSpanExporter(endpoint=receiver.endpoint, insecure=True, timeout=5)

    assert exporter.export(_finished_spans()) == SpanExportResult.FAILURE
    assert receiver.spans() == []
    [request] = receiver.requests(TRACES)
    assert request.status == grpc.StatusCode.INVALID_ARGUMENT
    assert request.metadata["user-agent"].startswith("OTel-OTLP-Exporter-Python")
    assert receiver.requests(LOGS) == []

    receiver.respond_with()
    assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
    assert len(receiver.spans()) == 2
    exporter.shutdown()


def test_stopped_receiver_refuses_exports_and_comes_back_on_the_same_port(receiver):
    endpoint = receiver.endpoint
    receiver.stop()
    refused = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=1)
    assert refused.export(_finished_spans()) == SpanExportResult.FAILURE
    refused.shutdown()

    receiver.start()
    assert receiver.endpoint == endpoint
    # A new exporter: the old channel would first sit out gRPC's reconnect backoff.
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10)
    assert exporter.export(_finished_spans()) == SpanExportResult.SUCCESS
    assert len(receiver.spans()) == 2
    exporter.shutdown()


def test_wait_for_times_out_with_a_summary_of_what_arrived(receiver):
    with pytest.raises(TimeoutError, match=r"not received after 0.2s: 0 requests"):
        receiver.wait_for(receiver.spans, timeout=0.2)
