"""Fixtures of the end-to-end pipeline tests: the real stack, and a span sender.

- ``pipeline_stack``: one ``LocalStack`` (Jaeger, Prometheus, the redaction processor,
  otelcol-max) on free loopback ports for the whole module; ``start_stack()`` (fixture
  ``stack_factory``) starts a fresh one for a test that breaks it (fault tests).
- ``SpanSender``: the OpenTelemetry SDK with its OTLP/gRPC exporter, as in a service, sending
  spans full of PII (see ``PII_ATTRIBUTES``) with unique trace ids to the collector, and
  recording the ids of every span the collector accepted, so a test can compare what was sent
  with what Jaeger stores::

      sender = SpanSender(stack.layout.collector_grpc, "fault-test")
      sender.send(traces=40, spans_per_trace=5, seconds=4.0)
      sender.flush()
      assert sender.accepted <= stored_span_ids(stored_traces(jaeger, sender.service_name))

The processor's own metrics endpoint is disabled in these stacks (it defaults to a fixed
port, 9464, that parallel runs would fight over); tests that read it set their own port.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from demo.jaeger_api import JaegerApi, JaegerTrace
from max_otel.cli._stack_health import wait_until
from max_otel.cli._stack_layout import StackLayout
from max_otel.cli.stack import LocalStack

SpanId = tuple[str, str]  # (trace id, span id), lower-case hex as Jaeger shows them

PII_ATTRIBUTES: dict[str, str] = {
    "customer.phone": "+5511987654321",
    "customer.email": "ana.souza@example.com",
    "message_content": "Hi, my card 4111 1111 1111 1111 was charged twice for order 1182",
    "user.password": "Hunter2!secret",
    "http.url": "https://crm.example.com/customers?email=john.miller%40example.org",
    "note": "call me on +33 6 12 34 56 78 or write to billing@dupont.example.fr",
}
"""What every sent span carries: all of it is seeded PII (``demo.seeded_pii``)."""

_RESTART_TIMEOUT = 60.0


def restart(stack: LocalStack, name: str) -> None:
    """Start the stopped component ``name`` again and wait until it is healthy."""
    component = stack.component(name)
    component.start(stack.layout.state_dir / "logs")
    wait_until(component, _RESTART_TIMEOUT)


def _new_stack(state_dir: Path, processor_env: dict[str, str] | None = None) -> LocalStack:
    stack = LocalStack(StackLayout.with_free_ports(state_dir))
    stack.component("processor").env.update(
        {"MAX_OTEL_PROCESSOR_METRICS_LISTEN": "", **(processor_env or {})}
    )
    return stack


@pytest.fixture(scope="module")
def pipeline_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole stack on free ports, started once for the module."""
    stack = _new_stack(tmp_path_factory.mktemp("stack"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Callable[..., LocalStack]]:
    """``start_stack(processor_env=None)``: a fresh, started stack, stopped after the test."""
    started: list[LocalStack] = []

    def start_stack(processor_env: dict[str, str] | None = None) -> LocalStack:
        stack = _new_stack(tmp_path / f"stack{len(started)}", processor_env)
        started.append(stack)
        stack.start()
        return stack

    try:
        yield start_stack
    finally:
        for stack in started:
            stack.stop()


class _RecordingExporter(SpanExporter):
    """Wraps the OTLP exporter; remembers the ids of spans in batches the collector accepted."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self._lock = threading.Lock()
        self.accepted: set[SpanId] = set()
        self.rejected = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._exporter.export(spans)
        ids = {
            (format_trace_id(s.context.trace_id), format_span_id(s.context.span_id))
            for s in spans
            if s.context is not None
        }
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.accepted |= ids
            else:
                self.rejected += len(ids)
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class SpanSender:
    """A service-like OTLP sender of PII-laden spans to ``collector_grpc`` (``host:port``)."""

    def __init__(self, collector_grpc: str, service_name: str) -> None:
        self.service_name = service_name
        self._exporter = _RecordingExporter(
            OTLPSpanExporter(endpoint=f"http://{collector_grpc}", insecure=True, timeout=10)
        )
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(
            BatchSpanProcessor(self._exporter, schedule_delay_millis=200, max_queue_size=20_000)
        )
        self._tracer = self._provider.get_tracer("max-otel-e2e-sender")
        self.sent = 0

    def send(self, traces: int, spans_per_trace: int, seconds: float) -> None:
        """Send ``traces`` traces of ``spans_per_trace`` spans each, spread over ``seconds``."""
        for _ in range(traces):
            attributes = {**PII_ATTRIBUTES, "conversation_id": str(uuid.uuid4())}
            with self._tracer.start_as_current_span(
                "handle inbound message", attributes=attributes
            ):
                for index in range(spans_per_trace - 1):
                    with self._tracer.start_as_current_span(
                        f"step {index}", attributes=PII_ATTRIBUTES
                    ) as span:
                        span.add_event(
                            "customer.lookup", {"customer.email": PII_ATTRIBUTES["customer.email"]}
                        )
            self.sent += spans_per_trace
            time.sleep(seconds / traces)

    def send_in_background(
        self, traces: int, spans_per_trace: int, seconds: float
    ) -> threading.Thread:
        """:meth:`send` in a started thread (join it, then :meth:`flush`)."""
        thread = threading.Thread(
            target=self.send, args=(traces, spans_per_trace, seconds), daemon=True
        )
        thread.start()
        return thread

    def flush(self) -> None:
        """Export everything sent so far (the collector answers once it has queued it)."""
        self._provider.force_flush(30_000)

    @property
    def accepted(self) -> set[SpanId]:
        """Ids of the spans the collector accepted."""
        return set(self._exporter.accepted)

    @property
    def rejected(self) -> int:
        """Spans the collector did not accept (the exporter gave up on them)."""
        return self._exporter.rejected

    def close(self) -> None:
        self._provider.shutdown()


@pytest.fixture
def span_sender() -> Iterator[Callable[[str, str], SpanSender]]:
    """``make_sender(collector_grpc, service_name)``; every sender is shut down afterwards."""
    senders: list[SpanSender] = []

    def make_sender(collector_grpc: str, service_name: str) -> SpanSender:
        sender = SpanSender(collector_grpc, f"{service_name}-{uuid.uuid4().hex[:8]}")
        senders.append(sender)
        return sender

    try:
        yield make_sender
    finally:
        for sender in senders:
            sender.close()


def stored_traces(jaeger: JaegerApi, service: str, limit: int = 10_000) -> list[JaegerTrace]:
    """Every trace Jaeger has for ``service``."""
    return jaeger.find_traces(service, limit=limit)


def stored_span_ids(traces: Sequence[JaegerTrace]) -> set[SpanId]:
    """The (trace id, span id) pairs of every span in ``traces``, as the SDK formats them
    (Jaeger may drop a trace id's leading zeros)."""
    return {
        (span.trace_id.rjust(32, "0"), span.span_id.rjust(16, "0"))
        for trace in traces
        for span in trace.spans
    }
