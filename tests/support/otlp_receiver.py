"""A real OTLP/gRPC receiver for tests: records every export request it is sent.

It serves the collector's TraceService, LogsService and MetricsService on a free loopback port
(or a chosen one), so an application's unmodified OTLP exporters can point at it. Records are
flattened into small dataclasses with attributes as Python values; the raw protobuf requests
(and their gRPC metadata) stay available. It can answer with an error status or slowly, and
be stopped and started again on the same port, for "collector down" tests::

    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        ...  # run the application
        spans = receiver.wait_for(lambda: [s for s in receiver.spans() if s.name == "GET /ping"])
        assert spans[0].service_name == "core-api"
        receiver.respond_with(grpc.StatusCode.UNAVAILABLE)   # every export now fails
        receiver.stop(); receiver.start()                    # same port, nothing listening between

``spans()``, ``log_records()`` and ``metrics()`` hold only what was accepted (answered OK), as
the dataclasses of :mod:`tests.support.otlp_records` (re-exported here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import grpc
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from tests.support.otlp_records import (
    ReceivedEvent,
    ReceivedLogRecord,
    ReceivedMetric,
    ReceivedPoint,
    ReceivedSpan,
    attributes_dict,
    log_record,
    metric_record,
    span_record,
)

__all__ = [
    "LOGS",
    "METRICS",
    "TRACES",
    "OtlpReceiver",
    "ReceivedEvent",
    "ReceivedLogRecord",
    "ReceivedMetric",
    "ReceivedPoint",
    "ReceivedRequest",
    "ReceivedSpan",
]

T = TypeVar("T")

TRACES = "traces"
LOGS = "logs"
METRICS = "metrics"

_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedRequest:
    """One export call: its signal, protobuf request, gRPC metadata and the status answered."""

    signal: str
    message: Message
    metadata: dict[str, str]
    status: grpc.StatusCode


class _Servicer(
    trace_service_pb2_grpc.TraceServiceServicer,
    logs_service_pb2_grpc.LogsServiceServicer,
    metrics_service_pb2_grpc.MetricsServiceServicer,
):
    """One Export for the three services; the receiver decides the answer."""

    def __init__(self, receiver: OtlpReceiver, signal: str, response: Callable[[], Message]):
        self._receiver = receiver
        self._signal = signal
        self._response = response

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        code, details, delay = self._receiver._answer()
        if delay:
            time.sleep(delay)
        metadata = {item.key: str(item.value) for item in context.invocation_metadata()}
        self._receiver._record(ReceivedRequest(self._signal, request, metadata, code))
        if code != grpc.StatusCode.OK:
            context.abort(code, details)
        return self._response()


class OtlpReceiver:
    """An OTLP/gRPC server on 127.0.0.1 that records what it receives (context manager)."""

    def __init__(self, port: int | None = None, *, max_workers: int = 4) -> None:
        self._port = port or 0
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._requests: list[ReceivedRequest] = []
        self._changed = threading.Condition()
        self._code = grpc.StatusCode.OK
        self._details = ""
        self._delay = 0.0

    @property
    def port(self) -> int:
        """The TCP port (known once started; kept across stop and start)."""
        if not self._port:
            raise RuntimeError("the receiver has no port until it is started")
        return self._port

    @property
    def endpoint(self) -> str:
        """The value for ``OTEL_EXPORTER_OTLP_ENDPOINT``: ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    def start(self) -> None:
        """Listen (again) on the same port; no-op when already running."""
        if self._server is not None:
            return
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self._max_workers),
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
            ],
        )
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
            _Servicer(self, TRACES, trace_service_pb2.ExportTraceServiceResponse), server
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
            _Servicer(self, LOGS, logs_service_pb2.ExportLogsServiceResponse), server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _Servicer(self, METRICS, metrics_service_pb2.ExportMetricsServiceResponse), server
        )
        bound = server.add_insecure_port(f"127.0.0.1:{self._port}")
        if bound == 0:
            raise OSError(f"cannot listen on 127.0.0.1:{self._port}")
        self._port = bound
        server.start()
        self._server = server

    def stop(self, grace: float = 0.5) -> None:
        """Stop listening; in-flight calls get ``grace`` seconds. Records are kept."""
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(grace=0)

    def respond_with(
        self, code: grpc.StatusCode = grpc.StatusCode.OK, details: str = "", *, delay: float = 0.0
    ) -> None:
        """Answer every following export with ``code`` (OK by default), after ``delay`` seconds."""
        with self._changed:
            self._code = code
            self._details = details or f"test receiver answers {code.name}"
            self._delay = delay

    def _answer(self) -> tuple[grpc.StatusCode, str, float]:
        with self._changed:
            return self._code, self._details, self._delay

    def _record(self, request: ReceivedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def clear(self) -> None:
        """Forget everything received so far."""
        with self._changed:
            self._requests.clear()

    def requests(self, signal: str | None = None) -> list[ReceivedRequest]:
        """Every export call received (accepted or not), optionally of one signal."""
        with self._changed:
            return [r for r in self._requests if signal is None or r.signal == signal]

    def _accepted(self, signal: str) -> list[Any]:
        return [r.message for r in self.requests(signal) if r.status == grpc.StatusCode.OK]

    def spans(self) -> list[ReceivedSpan]:
        """Every accepted span, in arrival order."""
        spans: list[ReceivedSpan] = []
        for request in self._accepted(TRACES):
            for resource_spans in request.resource_spans:
                resource = attributes_dict(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    spans.extend(
                        span_record(span, resource, scope_spans.scope.name)
                        for span in scope_spans.spans
                    )
        return spans

    def traces(self) -> dict[str, list[ReceivedSpan]]:
        """Accepted spans grouped by trace id."""
        grouped: dict[str, list[ReceivedSpan]] = {}
        for span in self.spans():
            grouped.setdefault(span.trace_id, []).append(span)
        return grouped

    def log_records(self) -> list[ReceivedLogRecord]:
        """Every accepted log record, in arrival order."""
        records: list[ReceivedLogRecord] = []
        for request in self._accepted(LOGS):
            for resource_logs in request.resource_logs:
                resource = attributes_dict(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    records.extend(
                        log_record(record, resource, scope_logs.scope.name)
                        for record in scope_logs.log_records
                    )
        return records

    def metrics(self) -> list[ReceivedMetric]:
        """Every accepted metric (one entry per metric per export), in arrival order."""
        metrics: list[ReceivedMetric] = []
        for request in self._accepted(METRICS):
            for resource_metrics in request.resource_metrics:
                resource = attributes_dict(resource_metrics.resource.attributes)
                for scope_metrics in resource_metrics.scope_metrics:
                    metrics.extend(
                        metric_record(metric, resource, scope_metrics.scope.name)
                        for metric in scope_metrics.metrics
                    )
        return metrics

    def summary(self) -> str:
        """A short description of what arrived, for assertion and timeout messages."""
        names = sorted({f"{s.service_name}:{s.name}" for s in self.spans()})
        return (
            f"{len(self.requests())} requests; spans: {names[:40]}; "
            f"{len(self.log_records())} log records; {len(self.metrics())} metrics"
        )

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Return ``predicate()``'s first truthy result; re-check after each request received.

        Raises TimeoutError, with a :meth:`summary` of what arrived, after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"not received after {timeout}s: {self.summary()}")
            with self._changed:
                self._changed.wait(min(remaining, 0.2))
