"""The metrics catalogue of Max services and a typed API to record it.

See ``docs/metrics.md`` for every metric, its labels and the name Prometheus shows::

    from max_otel.instrumentation.metrics import DatabaseGaugeCollector, MaxMetrics, sql_rows

    metrics = MaxMetrics()
    metrics.conversation_created(channel="whatsapp", team="sales")
    DatabaseGaugeCollector().observe("conversations_active", sql_rows(engine, QUERY))
"""

from __future__ import annotations

from max_otel.instrumentation.metrics._buckets import FIRST_RESPONSE_BUCKETS
from max_otel.instrumentation.metrics._catalogue import (
    CATALOGUE,
    MetricDefinition,
    MetricKind,
    Source,
    definition,
)
from max_otel.instrumentation.metrics._celery import (
    record_task_metrics,
    stop_recording_task_metrics,
)
from max_otel.instrumentation.metrics._collector import DatabaseGaugeCollector, RowsQuery, sql_rows
from max_otel.instrumentation.metrics._dependencies import observe_dependencies
from max_otel.instrumentation.metrics._election import RedisLeaderLock, environment_switch
from max_otel.instrumentation.metrics._process import observe_process
from max_otel.instrumentation.metrics._recorder import (
    CIRCUIT_STATE_VALUES,
    METER_NAME,
    CircuitState,
    Direction,
    MaxMetrics,
    MessageStatus,
    TaskStatus,
)
from max_otel.instrumentation.metrics._sqlalchemy import record_query_metrics, statement_operation

__all__ = [
    "CATALOGUE",
    "CIRCUIT_STATE_VALUES",
    "FIRST_RESPONSE_BUCKETS",
    "METER_NAME",
    "CircuitState",
    "DatabaseGaugeCollector",
    "Direction",
    "MaxMetrics",
    "MessageStatus",
    "MetricDefinition",
    "MetricKind",
    "RedisLeaderLock",
    "RowsQuery",
    "Source",
    "TaskStatus",
    "definition",
    "environment_switch",
    "observe_dependencies",
    "observe_process",
    "record_query_metrics",
    "record_task_metrics",
    "sql_rows",
    "statement_operation",
    "stop_recording_task_metrics",
]
