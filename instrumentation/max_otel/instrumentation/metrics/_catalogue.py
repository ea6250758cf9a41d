"""The metrics catalogue: every metric max-otel defines, as data.

Each :class:`MetricDefinition` names an OpenTelemetry instrument exactly as Prometheus shows
it after the collector's ``prometheus`` exporter, so dashboards and alerts use the names
written here (see ``docs/metrics.md`` for the naming rule)::

    >>> from max_otel.instrumentation.metrics import CATALOGUE, definition
    >>> definition("first_response_time_seconds").buckets
    (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

Names already carry their Prometheus suffixes (``_total`` on counters, ``_seconds`` on
durations), and units are either a unit that the name already ends with or an annotation in
braces (``{conversation}``), so the exporter serves the same name whether or not it is set to
add type and unit suffixes. Nothing here creates an instrument; :class:`MaxMetrics` and the
gauge collectors do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from max_otel.instrumentation.metrics._buckets import (
    DB_QUERY_BUCKETS,
    FIRST_RESPONSE_BUCKETS,
    INTEGRATION_LATENCY_BUCKETS,
    QUEUE_TIME_BUCKETS,
    RESOLUTION_BUCKETS,
    SUM_AND_COUNT_ONLY,
    TASK_DURATION_BUCKETS,
)


class MetricKind(enum.Enum):
    """The OpenTelemetry instrument behind a metric, and what Prometheus sees."""

    COUNTER = "counter"  # Prometheus counter
    UP_DOWN_COUNTER = "up_down_counter"  # Prometheus gauge (per process, summable)
    HISTOGRAM = "histogram"  # Prometheus histogram (_bucket, _sum, _count)
    GAUGE = "gauge"  # synchronous gauge: last value set in this process
    OBSERVABLE_GAUGE = "observable_gauge"  # read by a callback at each collection
    OBSERVABLE_COUNTER = "observable_counter"  # cumulative total read by a callback


class Source(enum.Enum):
    """Who produces the values, which decides how to aggregate them across replicas."""

    PROCESS = "process"  # each replica counts its own work: sum across replicas
    SOURCE_OF_TRUTH = "source_of_truth"  # one collector reads the database: max, never sum


@dataclass(frozen=True)
class MetricDefinition:
    """One metric of the catalogue.

    ``name`` is the OpenTelemetry instrument name and the Prometheus name; ``labels`` are the
    attribute keys a recording carries (the exporter adds ``job``, ``instance`` and the
    resource labels); ``buckets`` are explicit histogram boundaries (empty for sum and count
    only, ``None`` for instruments that are not histograms).
    """

    name: str
    kind: MetricKind
    unit: str
    description: str
    labels: tuple[str, ...]
    source: Source = Source.PROCESS
    buckets: tuple[float, ...] | None = None


def _m(
    name: str,
    kind: MetricKind,
    unit: str,
    description: str,
    labels: tuple[str, ...] = (),
    *,
    source: Source = Source.PROCESS,
    buckets: tuple[float, ...] | None = None,
) -> MetricDefinition:
    return MetricDefinition(name, kind, unit, description, labels, source, buckets)


_C, _U, _H, _G = (
    MetricKind.COUNTER,
    MetricKind.UP_DOWN_COUNTER,
    MetricKind.HISTOGRAM,
    MetricKind.GAUGE,
)
_OG, _OC = MetricKind.OBSERVABLE_GAUGE, MetricKind.OBSERVABLE_COUNTER
_DB = Source.SOURCE_OF_TRUTH

CATALOGUE: tuple[MetricDefinition, ...] = (
    # --- Business: conversations -------------------------------------------------------------
    _m("conversations_total", _C, "{conversation}", "Conversations created", ("channel", "team")),
    _m(
        "conversations_closed_total",
        _C,
        "{conversation}",
        "Conversations closed",
        ("channel", "team"),
    ),
    _m(
        "conversations_active",
        _OG,
        "{conversation}",
        "Conversations not closed, by team and status (queued = the team's queue backlog)",
        ("team", "status"),
        source=_DB,
    ),
    # --- Business: response times ------------------------------------------------------------
    _m(
        "first_response_time_seconds",
        _H,
        "s",
        "Time from a conversation's creation to the first agent reply",
        ("team",),
        buckets=FIRST_RESPONSE_BUCKETS,
    ),
    _m(
        "resolution_time_seconds",
        _H,
        "s",
        "Time from a conversation's creation to its closing",
        ("team",),
        buckets=RESOLUTION_BUCKETS,
    ),
    _m(
        "queue_time_seconds",
        _H,
        "s",
        "Time a conversation waited in a team's queue before assignment",
        ("team",),
        buckets=QUEUE_TIME_BUCKETS,
    ),
    # --- Business: messages and agents -------------------------------------------------------
    _m(
        "messages_total",
        _C,
        "{message}",
        "Messages by direction, channel and delivery status",
        ("direction", "channel", "status"),
    ),
    _m(
        "agent_active_conversations",
        _OG,
        "{conversation}",
        "Conversations assigned to each agent and not closed",
        ("agent_id",),
        source=_DB,
    ),
    _m(
        "agent_utilization_ratio",
        _OG,
        "1",
        "Each agent's active conversations divided by the agent's capacity (0..1+)",
        ("agent_id",),
        source=_DB,
    ),
    _m("agent_messages_sent_total", _C, "{message}", "Messages sent per agent", ("agent_id",)),
    _m(
        "agent_first_response_time_seconds",
        _H,
        "s",
        "First response time per agent (sum and count only: average = sum / count)",
        ("agent_id",),
        buckets=SUM_AND_COUNT_ONLY,
    ),
    # --- Integrations ------------------------------------------------------------------------
    _m(
        "integration_requests_total",
        _C,
        "{request}",
        "Integration requests by adapter, operation and status (success or failed)",
        ("adapter", "operation", "status"),
    ),
    _m(
        "integration_latency_seconds",
        _H,
        "s",
        "Integration request latency",
        ("adapter", "operation"),
        buckets=INTEGRATION_LATENCY_BUCKETS,
    ),
    _m(
        "integration_circuit_breaker_state",
        _G,
        "{state}",
        "Circuit breaker state per adapter in this process: 0 closed, 1 half open, 2 open",
        ("adapter",),
    ),
    _m(
        "integration_cache_requests_total",
        _C,
        "{request}",
        "Integration cache look-ups by result (hit or miss)",
        ("adapter", "result"),
    ),
    # --- Database ----------------------------------------------------------------------------
    _m(
        "db_query_duration_seconds",
        _H,
        "s",
        "SQL statement duration by operation (SELECT, INSERT...)",
        ("operation",),
        buckets=DB_QUERY_BUCKETS,
    ),
    _m(
        "db_slow_queries_total",
        _C,
        "{query}",
        "SQL statements slower than the slow-query threshold (1 s by default)",
        ("operation",),
    ),
    # --- Workers (Celery) --------------------------------------------------------------------
    _m(
        "celery_queue_length",
        _OG,
        "{task}",
        "Tasks waiting in each Celery queue (read from the broker)",
        ("queue",),
        source=_DB,
    ),
    _m(
        "celery_task_duration_seconds",
        _H,
        "s",
        "Celery task run time by task name and outcome",
        ("task", "status"),
        buckets=TASK_DURATION_BUCKETS,
    ),
    _m(
        "celery_tasks_total",
        _C,
        "{task}",
        "Celery tasks run, by task name and outcome (succeeded, failed, retried)",
        ("task", "status"),
    ),
    _m(
        "celery_workers_busy",
        _U,
        "{task}",
        "Tasks running now in this worker process (utilisation = busy / concurrency)",
        (),
    ),
    # --- WebSockets --------------------------------------------------------------------------
    _m(
        "websocket_connections_active",
        _U,
        "{connection}",
        "Open WebSocket connections in this process",
    ),
    _m(
        "websocket_messages_total",
        _C,
        "{message}",
        "WebSocket messages by direction",
        ("direction",),
    ),
    _m(
        "websocket_errors_total",
        _C,
        "{error}",
        "WebSocket connection errors by reason",
        ("reason",),
    ),
    _m(
        "websocket_reconnections_total",
        _C,
        "{connection}",
        "WebSocket connections that resumed an earlier session",
    ),
    # --- Dependencies and the process --------------------------------------------------------
    _m(
        "dependency_up",
        _OG,
        "{dependency}",
        "1 when this process's last readiness check of the dependency passed, else 0",
        ("dependency",),
    ),
    _m(
        "process_cpu_seconds_total",
        _OC,
        "s",
        "CPU time (user + system) used by this process",
    ),
    _m(
        "process_resident_memory_bytes",
        _OG,
        "By",
        "Resident memory of this process",
    ),
)

_BY_NAME: dict[str, MetricDefinition] = {metric.name: metric for metric in CATALOGUE}


def definition(name: str) -> MetricDefinition:
    """Return the catalogue entry called ``name``; raise ``KeyError`` naming it if unknown."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the max-otel metrics catalogue") from None
