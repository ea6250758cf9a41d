"""Each forked process exports through an exporter of its own; forks wait for exports."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from max_otel.instrumentation.fork_gate import ForkGate
from max_otel.instrumentation.process_local import (
    ProcessLocalMetricExporter,
    ProcessLocalSpanExporter,
    make_metric_readers_process_local,
)

pytestmark = pytest.mark.unit


class PipeExporter(SpanExporter):
    """Writes '<pid of creation> <pid of export> <span name>' lines to a pipe."""

    def __init__(self, write_fd: int) -> None:
        self.created_in = os.getpid()
        self._fd = write_fd

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            os.write(self._fd, f"{self.created_in} {os.getpid()} {span.name}\n".encode())
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def run_in_child(function: object) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            function()  # type: ignore[operator]
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_forked_child_builds_its_own_exporter() -> None:
    read_fd, write_fd = os.pipe()
    exporter = ProcessLocalSpanExporter(lambda: PipeExporter(write_fd), PipeExporter(write_fd))
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    tracer.start_span("in-parent").end()
    assert run_in_child(lambda: tracer.start_span("in-child").end()) == 0
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        lines = [line.split() for line in pipe.read().splitlines()]
    parent = os.getpid()
    assert [parent, parent, "in-parent"] == [int(lines[0][0]), int(lines[0][1]), lines[0][2]]
    created_in, exported_in, name = lines[1]
    assert name == "in-child"
    assert int(created_in) == int(exported_in) != parent


def test_fork_waits_for_a_running_export_to_finish() -> None:
    gate = ForkGate(max_wait=5.0)
    finished = threading.Event()

    def export() -> None:
        gate.enter()
        try:
            time.sleep(0.3)
            finished.set()
        finally:
            gate.leave()

    thread = threading.Thread(target=export)
    thread.start()
    time.sleep(0.05)
    gate.before_fork()
    assert finished.is_set()
    gate.after_fork_in_parent()
    thread.join()


def test_fork_gives_up_waiting_after_max_wait() -> None:
    gate = ForkGate(max_wait=0.1)
    gate.enter()
    started = time.monotonic()
    gate.before_fork()
    assert time.monotonic() - started < 1.0
    gate.after_fork_in_parent()
    gate.leave()


class CountingMetricExporter(MetricExporter):
    instances = 0

    def __init__(self) -> None:
        super().__init__()
        CountingMetricExporter.instances += 1
        self.exports = 0

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        self.exports += 1
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        pass


def test_metric_readers_are_made_process_local_and_gated() -> None:
    exporter = CountingMetricExporter()
    periodic = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    pull = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[periodic, pull])
    try:
        assert make_metric_readers_process_local([periodic, pull]) == 1
        assert make_metric_readers_process_local([periodic]) == 0
        assert isinstance(periodic._exporter, ProcessLocalMetricExporter)
        provider.get_meter("m").create_counter("c").add(1)
        provider.force_flush()
        assert exporter.exports == 1
    finally:
        provider.shutdown()
