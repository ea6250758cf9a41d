"""Create OpenTelemetry instruments from catalogue entries, and guard recording calls.

:func:`create_instrument` turns a synchronous :class:`MetricDefinition` into the matching
instrument of a ``Meter`` (histograms get their buckets through
``explicit_bucket_boundaries_advisory``, so no SDK ``View`` is needed). :func:`never_raises`
wraps a recording method so a bug or a bad argument is logged once per method and the
application goes on: telemetry never breaks a request.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, Protocol

from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter
from opentelemetry.util.types import Attributes

from max_otel.instrumentation.metrics._catalogue import MetricDefinition, MetricKind

logger = logging.getLogger(__name__)


class Gauge(Protocol):
    """A synchronous gauge (``Meter.create_gauge``; its API class is still private)."""

    def set(self, amount: int | float, attributes: Attributes = None) -> None: ...


SyncInstrument = Counter | UpDownCounter | Histogram | Gauge

_P = ParamSpec("_P")
_already_logged: set[str] = set()


def create_instrument(meter: Meter, metric: MetricDefinition) -> SyncInstrument:
    """Create the synchronous instrument ``metric`` describes; raise ``ValueError`` otherwise."""
    if metric.kind is MetricKind.COUNTER:
        return meter.create_counter(metric.name, unit=metric.unit, description=metric.description)
    if metric.kind is MetricKind.UP_DOWN_COUNTER:
        return meter.create_up_down_counter(
            metric.name, unit=metric.unit, description=metric.description
        )
    if metric.kind is MetricKind.HISTOGRAM:
        return meter.create_histogram(
            metric.name,
            unit=metric.unit,
            description=metric.description,
            explicit_bucket_boundaries_advisory=metric.buckets,
        )
    if metric.kind is MetricKind.GAUGE:
        gauge: Gauge = meter.create_gauge(
            metric.name, unit=metric.unit, description=metric.description
        )
        return gauge
    raise ValueError(
        f"metric {metric.name} must be a synchronous instrument to be created here; "
        f"got {metric.kind.value} (observable instruments are created by their collectors)"
    )


def never_raises(method: Callable[_P, None]) -> Callable[_P, None]:
    """Wrap a recording method: any exception is logged (once per method) and swallowed."""

    @functools.wraps(method)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            if method.__qualname__ not in _already_logged:
                _already_logged.add(method.__qualname__)
                logger.exception("max-otel: recording %s failed; not recorded", method.__name__)

    return guarded
