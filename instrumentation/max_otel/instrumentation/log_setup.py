"""Wire ``logging`` for a Max service: JSON on stdout, and no telemetry feedback loops.

- ``install_stdout_handler`` puts one ``StreamHandler`` with the ``JsonLogFormatter`` on the
  root logger (idempotent; the stream is captured when installed, so Celery's redirection of
  ``sys.stdout`` into logging cannot make it write into itself).
- ``TelemetryInternalsFilter`` keeps OpenTelemetry's and gRPC's own records away from the
  OTLP log handler: an exporter that cannot reach the collector logs a warning, which would be
  queued for export, fail, and log again, for as long as the collector is down.
- ``RepeatedRecordFilter`` lets the first of a series of identical warnings through and
  holds the repeats back for ``interval`` seconds, then reports how many it held back; it is
  put on the loggers of the OTLP exporters, so a collector that is down gives a few lines per
  minute, not one per export attempt per signal::

    install_stdout_handler(JsonLogFormatter("core-api", redactor))
    quiet_repeated_export_errors()
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

STDOUT_HANDLER_NAME = "max_otel.stdout"
INTERNAL_LOGGER_PREFIXES = ("opentelemetry", "grpc", "max_otel.processors.in_process")
"""Loggers whose records never go to the OTLP log handler."""

EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
)
"""Loggers that repeat the same warning while the collector is unreachable."""

_DEFAULT_REPEAT_INTERVAL = 60.0


class TelemetryInternalsFilter(logging.Filter):
    """Rejects records of the telemetry stack itself (``INTERNAL_LOGGER_PREFIXES``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return not any(
            name == prefix or name.startswith(prefix + ".") for prefix in INTERNAL_LOGGER_PREFIXES
        )


class RepeatedRecordFilter(logging.Filter):
    """Passes a record whose (logger, message template) was not seen in the last
    ``interval`` seconds; the next one passed says how many were held back."""

    def __init__(self, interval: float = _DEFAULT_REPEAT_INTERVAL) -> None:
        super().__init__()
        if interval <= 0:
            raise ValueError(f"interval must be positive; got {interval}")
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last[0] < self._interval:
                self._last[key] = (last[0], last[1] + 1)
                return False
            held_back = last[1] if last is not None else 0
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = (now, 0)
        if held_back:
            record.msg = f"{record.msg} ({held_back} similar messages suppressed)"
        return True


def quiet_repeated_export_errors(interval: float = _DEFAULT_REPEAT_INTERVAL) -> None:
    """Put one ``RepeatedRecordFilter`` on each of ``EXPORTER_LOGGERS`` (idempotent)."""
    for name in EXPORTER_LOGGERS:
        exporter_logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatedRecordFilter) for f in exporter_logger.filters):
            exporter_logger.addFilter(RepeatedRecordFilter(interval))


def keep_internals_out_of(handler: logging.Handler) -> None:
    """Add a ``TelemetryInternalsFilter`` to ``handler`` (idempotent)."""
    if not any(isinstance(f, TelemetryInternalsFilter) for f in handler.filters):
        handler.addFilter(TelemetryInternalsFilter())


def stdout_handler() -> logging.Handler | None:
    """The handler ``install_stdout_handler`` put on the root logger, if any."""
    for handler in logging.getLogger().handlers:
        if handler.get_name() == STDOUT_HANDLER_NAME:
            return handler
    return None


def install_stdout_handler(
    formatter: logging.Formatter, stream: TextIO | None = None
) -> logging.Handler:
    """Add (or update) the JSON stdout handler of the root logger and return it."""
    handler = stdout_handler()
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.set_name(STDOUT_HANDLER_NAME)
        logging.getLogger().addHandler(handler)
    handler.setFormatter(formatter)
    return handler


def level_number(name: str) -> int | None:
    """The ``logging`` level called ``name`` (case-insensitive), or None."""
    level = logging.getLevelName(name.strip().upper())
    return level if isinstance(level, int) else None
