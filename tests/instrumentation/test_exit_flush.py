"""Telemetry is flushed when a process ends, within a bounded time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider

from max_otel.instrumentation import exit_flush
from max_otel.instrumentation.exit_flush import flush_telemetry

pytestmark = pytest.mark.unit


def test_flush_gives_up_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    class StuckProvider(TracerProvider):
        def force_flush(self, timeout_millis: int = 30000) -> bool:
            release.wait(10)
            return True

    monkeypatch.setattr(exit_flush.trace, "get_tracer_provider", StuckProvider)
    started = time.monotonic()
    try:
        assert flush_telemetry(timeout_seconds=0.2) is False
        assert time.monotonic() - started < 2
    finally:
        release.set()


def test_flush_calls_every_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    flushed = []

    class Provider:
        def __init__(self, name: str) -> None:
            self.name = name

        def force_flush(self, timeout_millis: int) -> bool:
            flushed.append(self.name)
            return True

    monkeypatch.setattr(exit_flush.trace, "get_tracer_provider", lambda: Provider("t"))
    monkeypatch.setattr(exit_flush, "get_logger_provider", lambda: Provider("l"))
    monkeypatch.setattr(exit_flush.metrics, "get_meter_provider", lambda: Provider("m"))
    assert flush_telemetry(timeout_seconds=2)
    assert sorted(flushed) == ["l", "m", "t"]


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from max_otel.instrumentation.exit_flush import flush_on_sigterm

    class Stdout(SpanExporter):
        def export(self, spans):
            for span in spans:
                print("exported", span.name, flush=True)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Stdout(), schedule_delay_millis=60_000))
    trace.set_tracer_provider(provider)
    assert flush_on_sigterm()
    assert not flush_on_sigterm()  # a handler is in place now: never replaced
    trace.get_tracer("t").start_span("last-span").end()
    print("ready", flush=True)
    time.sleep(30)
    """
)


def test_sigterm_flushes_then_the_process_dies_of_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    os.kill(process.pid, signal.SIGTERM)
    output = process.stdout.read()
    assert process.wait(timeout=20) == -signal.SIGTERM
    assert output == "exported last-span\n"
