"""The three OTLP/gRPC services the processor serves, and how each is redacted.

::

    for signal in SIGNALS:
        signal.service    # "opentelemetry.proto.collector.trace.v1.TraceService"
        signal.method     # "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        signal.redact(engine, request_bytes) -> RedactionResult
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from max_otel.processors.otlp import (
    RedactionEngine,
    RedactionResult,
    redact_logs,
    redact_metrics,
    redact_traces,
)


@dataclass(frozen=True)
class Signal:
    """One OTLP signal: its gRPC service, request type and fast-path walker."""

    name: str
    service: str
    request_type: type[Message]
    redact: Callable[[RedactionEngine, bytes], RedactionResult]

    @property
    def method(self) -> str:
        return f"/{self.service}/Export"


SIGNALS = (
    Signal(
        "traces",
        trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name,
        trace_service_pb2.ExportTraceServiceRequest,
        redact_traces,
    ),
    Signal(
        "logs",
        logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name,
        logs_service_pb2.ExportLogsServiceRequest,
        redact_logs,
    ),
    Signal(
        "metrics",
        metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name,
        metrics_service_pb2.ExportMetricsServiceRequest,
        redact_metrics,
    ),
)
