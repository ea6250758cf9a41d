"""This process's CPU time and resident memory, read at each collection (stdlib only)::

    from max_otel.instrumentation.metrics import observe_process
    observe_process()      # process_cpu_seconds_total, process_resident_memory_bytes

Values are per replica (each series carries the replica's ``instance`` label). Resident
memory comes from ``/proc/self/statm`` on Linux; elsewhere from ``getrusage``'s peak.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
from collections.abc import Iterable

from opentelemetry import metrics as otel_metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from max_otel.instrumentation.metrics._catalogue import definition
from max_otel.instrumentation.metrics._recorder import METER_NAME

logger = logging.getLogger(__name__)

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def cpu_seconds() -> float:
    """User plus system CPU seconds this process has used."""
    times = os.times()
    return times.user + times.system


def resident_memory_bytes() -> int:
    """Resident set size of this process in bytes."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _cpu(_options: CallbackOptions) -> Iterable[Observation]:
    try:
        return [Observation(cpu_seconds())]
    except Exception:
        logger.exception("max-otel: reading process CPU time failed")
        return []


def _memory(_options: CallbackOptions) -> Iterable[Observation]:
    try:
        return [Observation(resident_memory_bytes())]
    except Exception:
        logger.exception("max-otel: reading process memory failed")
        return []


def observe_process(meter: Meter | None = None) -> None:
    """Register the two process gauges on ``meter`` (default: the catalogue's meter)."""
    meter = meter or otel_metrics.get_meter(METER_NAME)
    cpu = definition("process_cpu_seconds_total")
    meter.create_observable_counter(
        cpu.name, callbacks=[_cpu], unit=cpu.unit, description=cpu.description
    )
    memory = definition("process_resident_memory_bytes")
    meter.create_observable_gauge(
        memory.name, callbacks=[_memory], unit=memory.unit, description=memory.description
    )
