"""Logging wiring: repeated exporter errors are held back, telemetry internals stay local."""

from __future__ import annotations

import io
import logging

import pytest

from max_otel.instrumentation.log_setup import (
    RepeatedRecordFilter,
    TelemetryInternalsFilter,
    install_stdout_handler,
    quiet_repeated_export_errors,
    stdout_handler,
)

pytestmark = pytest.mark.unit


def record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)


def test_repeats_are_held_back_then_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("max_otel.instrumentation.log_setup.time.monotonic", lambda: now[0])
    f = RepeatedRecordFilter(interval=60)
    template = "Transient error %s encountered while exporting %s"
    passed = [f.filter(record("exporter", template, "UNAVAILABLE", s)) for s in ("a", "b", "c")]
    assert passed == [True, False, False]
    assert f.filter(record("exporter", "another message"))
    now[0] += 61
    last = record("exporter", template, "UNAVAILABLE", "d")
    assert f.filter(last)
    assert last.getMessage().endswith("(2 similar messages suppressed)")


def test_quieting_covers_the_otlp_exporter_logger() -> None:
    quiet_repeated_export_errors()
    quiet_repeated_export_errors()
    exporter_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.grpc.exporter")
    assert sum(isinstance(f, RepeatedRecordFilter) for f in exporter_logger.filters) == 1


def test_internal_records_are_kept_out_of_the_otlp_handler() -> None:
    f = TelemetryInternalsFilter()
    assert not f.filter(record("opentelemetry.exporter.otlp.proto.grpc.exporter", "x"))
    assert not f.filter(record("grpc._channel", "x"))
    assert f.filter(record("max_service.tasks", "conversation.assigned"))
    assert f.filter(record("opentelemetryish", "x"))


def test_stdout_handler_is_installed_once() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    try:
        first = install_stdout_handler(logging.Formatter("%(message)s"), stream)
        second = install_stdout_handler(logging.Formatter("X %(message)s"), stream)
        assert first is second is stdout_handler()
        assert sum(h is first for h in root.handlers) == 1
        first.handle(record("t", "hello"))
        assert stream.getvalue() == "X hello\n"
    finally:
        handler = stdout_handler()
        if handler is not None:
            root.removeHandler(handler)
