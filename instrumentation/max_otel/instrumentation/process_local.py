"""Exporters that are re-created in each forked process (Celery prefork, gunicorn, uWSGI).

The SDK restarts its batch processors' and metric reader's threads in a forked child, but
the exporters are the application's responsibility: a gRPC channel is not fork-safe, and an
exporter forked in the middle of an export holds a lock that is never released in the child.
These wrappers hold a factory and build a fresh exporter the first time they are used in a
process other than the one that built the current one; the child never touches its copy of
the parent's exporter. Every exporter they build has its RPCs inside the fork gate
(``grpc_exporters.gate_grpc_calls``)::

    exporter = ProcessLocalSpanExporter(OTLPSpanExporter)   # a factory: class or callable
    provider.add_span_processor(BatchSpanProcessor(exporter))
    os.fork()   # the child's first export builds its own OTLPSpanExporter

``make_metric_readers_process_local`` does the same for the metric readers' exporters and
makes each reader's collection fork-safe. ``abort_retries_at_exit`` makes the exporters of
an exiting process try each final export once. Calls into one wrapper are serialised by the
processor that owns it (the batch processors and the metric reader export under a lock).
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from max_otel.instrumentation.fork_gate import FORK_GATE
from max_otel.instrumentation.grpc_exporters import abort_retries, gate_grpc_calls

E = TypeVar("E")

_built: weakref.WeakSet[Any] = weakref.WeakSet()
"""Every exporter built (or adopted) by a wrapper in this process."""


class _PerProcess(Generic[E]):
    """The exporter of the current process, built by ``factory`` on first use there."""

    def __init__(self, factory: Callable[[], E], exporter: E | None = None) -> None:
        self._factory = factory
        self._exporter = self._adopt(exporter) if exporter is not None else None
        self._pid = os.getpid() if exporter is not None else None

    @staticmethod
    def _adopt(exporter: E) -> E:
        gate_grpc_calls(exporter)
        _built.add(exporter)
        return exporter

    def current(self) -> E:
        pid = os.getpid()
        if self._exporter is None or self._pid != pid:
            self._exporter = self._adopt(self._factory())
            self._pid = pid
        return self._exporter

    def built_here(self) -> E | None:
        """The exporter if this process built it (nothing to flush or close otherwise)."""
        return self._exporter if self._pid == os.getpid() else None


class _ClosesWhatItBuilt:
    """``shutdown``/``force_flush`` reach the exporter only in the process that built it."""

    _exporters: _PerProcess[Any]

    def shutdown(self) -> None:
        exporter = self._exporters.built_here()
        if exporter is not None:
            exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        exporter = self._exporters.built_here()
        return True if exporter is None else bool(exporter.force_flush(timeout_millis))


class ProcessLocalSpanExporter(_ClosesWhatItBuilt, SpanExporter):
    """A ``SpanExporter`` re-created by ``factory`` in each process that uses it."""

    def __init__(self, factory: Callable[[], SpanExporter], exporter: SpanExporter | None = None):
        self._exporters = _PerProcess(factory, exporter)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result: SpanExportResult = self._exporters.current().export(spans)
        return result


class ProcessLocalLogRecordExporter(_ClosesWhatItBuilt, LogRecordExporter):
    """A ``LogRecordExporter`` re-created by ``factory`` in each process that uses it."""

    def __init__(
        self, factory: Callable[[], LogRecordExporter], exporter: LogRecordExporter | None = None
    ):
        self._exporters = _PerProcess(factory, exporter)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result: LogRecordExportResult = self._exporters.current().export(batch)
        return result


class ProcessLocalMetricExporter(MetricExporter):
    """A ``MetricExporter`` re-created by ``factory`` in each process that uses it; keeps the
    temporality and aggregation preferences of ``exporter``."""

    def __init__(self, factory: Callable[[], MetricExporter], exporter: MetricExporter) -> None:
        super().__init__(
            preferred_temporality=exporter._preferred_temporality,
            preferred_aggregation=exporter._preferred_aggregation,
        )
        self._exporters = _PerProcess(factory, exporter)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self._exporters.current().export(metrics_data, timeout_millis=timeout_millis)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        exporter = self._exporters.built_here()
        return True if exporter is None else exporter.force_flush(timeout_millis=timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        exporter = self._exporters.built_here()
        if exporter is not None:
            exporter.shutdown(timeout_millis=timeout_millis)


def _gated(collect: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(collect)
    def gated_collect(*args: Any, **kwargs: Any) -> Any:
        FORK_GATE.enter()
        try:
            return collect(*args, **kwargs)
        finally:
            FORK_GATE.leave()

    return gated_collect


def _renew_export_lock(reader: weakref.ref[PeriodicExportingMetricReader]) -> None:
    alive = reader()
    if alive is not None:
        alive._export_lock = threading.Lock()


def make_metric_readers_process_local(readers: Sequence[object]) -> int:
    """Make each ``PeriodicExportingMetricReader`` of ``readers`` fork-safe; return how many
    were changed.

    Its exporter becomes process-local; its collection of the SDK's state runs inside the
    fork gate (a fork in the middle of one would leave the SDK's collection locks held forever
    in the child); its export lock is renewed in a forked child (the SDK restarts the reader's
    thread there but keeps the lock, which the parent may have held). The reader keeps these
    in ``_exporter``, ``_collect`` and ``_export_lock`` (SDK pinned exactly).
    """
    changed = 0
    for reader in readers:
        if not isinstance(reader, PeriodicExportingMetricReader):
            continue
        exporter = reader._exporter
        if isinstance(exporter, ProcessLocalMetricExporter):
            continue
        reader._exporter = ProcessLocalMetricExporter(type(exporter), exporter)
        if reader._collect is not None:
            reader._collect = _gated(reader._collect)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(
                after_in_child=functools.partial(_renew_export_lock, weakref.ref(reader))
            )
        changed += 1
    return changed


def abort_all_retries() -> None:
    """Make every exporter built in this process try its next exports once (no retries)."""
    for exporter in list(_built):
        abort_retries(exporter)


def abort_retries_at_exit() -> None:
    """At interpreter exit, before the providers' own shutdown (``atexit`` runs handlers in
    reverse order, so call this after the providers exist), stop the exporters' retries."""
    atexit.unregister(abort_all_retries)
    atexit.register(abort_all_retries)
