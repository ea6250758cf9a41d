"""``dependency_up{dependency}``: 1 while this process reaches a dependency, 0 when not.

The values come from the readiness checks (``max_otel.instrumentation.health``), which pass
a ``() -> Mapping[str, bool]`` here; the ``DatabaseDown`` alert is built on this gauge::

    from max_otel.instrumentation.metrics import observe_dependencies
    observe_dependencies(readiness.results_for_metrics)   # {"database": True, ...}
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from max_otel.instrumentation.metrics._catalogue import definition
from max_otel.instrumentation.metrics._recorder import METER_NAME

logger = logging.getLogger(__name__)

DependencyResults = Callable[[], Mapping[str, bool]]
"""Returns each dependency's name and whether its last check passed."""


def observe_dependencies(results: DependencyResults, meter: Meter | None = None) -> None:
    """Register ``dependency_up`` with ``results`` as its source; the callback never raises."""
    meter = meter or otel_metrics.get_meter(METER_NAME)
    metric = definition("dependency_up")

    def callback(_options: CallbackOptions) -> Iterable[Observation]:
        try:
            return [
                Observation(1 if up else 0, {"dependency": name}) for name, up in results().items()
            ]
        except Exception:
            logger.exception("max-otel: reading dependency results failed")
            return []

    meter.create_observable_gauge(
        metric.name, callbacks=[callback], unit=metric.unit, description=metric.description
    )
