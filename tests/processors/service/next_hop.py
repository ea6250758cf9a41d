"""A real OTLP/gRPC receiver to stand as the processor's next hop in tests.

It records every request it accepts and can be told to fail, to answer slowly, or to go down
and come back on the same port::

    with NextHop() as hop:
        hop.url                     # http://127.0.0.1:PORT for --forward (https:// with TLS)
        hop.fail_with = grpc.StatusCode.UNAVAILABLE
        hop.delay = 2.0
        hop.stop(); hop.start()
        hop.spans()                 # every Span received, in order
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from types import TracebackType
from typing import Any, Self

import grpc
from max_service_launch.local_servers import free_port
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class NextHop:
    """An in-process gRPC server implementing the three OTLP ``Export`` services."""

    def __init__(
        self, port: int | None = None, credentials: grpc.ServerCredentials | None = None
    ) -> None:
        self.port = port or free_port()
        self.credentials = credentials
        self.fail_with: grpc.StatusCode | None = None
        self.delay = 0.0
        self.rejected_spans = 0  # reported as partial_success on traces when > 0
        self.traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.logs: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self.metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.in_flight = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    @property
    def url(self) -> str:
        if self.credentials is not None:
            return f"https://localhost:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, store: list[Any], request: Any, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.in_flight += 1
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.fail_with is not None:
                context.abort(self.fail_with, "next hop told to fail")
            with self._lock:
                store.append(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def start(self) -> None:
        hop = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                hop._handle(hop.traces, request, context)
                response = trace_service_pb2.ExportTraceServiceResponse()
                if hop.rejected_spans:
                    response.partial_success.rejected_spans = hop.rejected_spans
                    response.partial_success.error_message = "some spans rejected"
                return response

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                hop._handle(hop.logs, request, context)
                return logs_service_pb2.ExportLogsServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                hop._handle(hop.metrics, request, context)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=16),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        if self.credentials is None:
            server.add_insecure_port(f"127.0.0.1:{self.port}")
        else:
            server.add_secure_port(f"127.0.0.1:{self.port}", self.credentials)
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None

    def spans(self) -> list[Any]:
        with self._lock:
            return [
                span
                for request in self.traces
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            ]

    def log_records(self) -> list[Any]:
        with self._lock:
            return [
                record
                for request in self.logs
                for resource_logs in request.resource_logs
                for scope_logs in resource_logs.scope_logs
                for record in scope_logs.log_records
            ]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
