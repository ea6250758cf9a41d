"""Gauges read from the source of truth (the database, the broker), by one process only.

Active conversations, queue backlog and agent load are facts of the database, not of a
replica: summing every replica's in-memory guess over- or under-counts. So each of these
gauges is an observable gauge whose callback runs ONE query (a callable the service provides,
returning rows), reuses its result for ``ttl_seconds``, and only in the process that
``enabled`` elects (see ``_election``)::

    from max_otel.instrumentation.metrics import DatabaseGaugeCollector, sql_rows

    collector = DatabaseGaugeCollector()          # enabled by MAX_OTEL_DB_GAUGES=1
    collector.observe("conversations_active", sql_rows(engine,
        "SELECT coalesce(team, 'unassigned'), status, count(*) FROM conversations"
        " WHERE status <> 'closed' GROUP BY 1, 2"))
    collector.observe("celery_queue_length", lambda: [("max", redis.llen("max"))])

A row holds the gauge's label values in catalogue order, then the value: for
``conversations_active{team,status}`` a row is ``(team, status, count)``. A label value of
None becomes ``"unassigned"``. When the query fails, the gauge reports nothing for that
collection (a gap, never a wrong number) and a warning is logged once per failure streak.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from max_otel.instrumentation.metrics._catalogue import MetricKind, Source, definition
from max_otel.instrumentation.metrics._election import environment_switch
from max_otel.instrumentation.metrics._recorder import METER_NAME
from max_otel.instrumentation.metrics.environment_variables import MAX_OTEL_DB_GAUGES_TTL

logger = logging.getLogger(__name__)

_DEFAULT_TTL_SECONDS = 10.0
_MISSING_LABEL_VALUE = "unassigned"

RowsQuery = Callable[[], Iterable[Sequence[Any]]]
"""Returns the gauge's rows: label values in catalogue order, then the value."""


class _CachedRows:
    """One query and its last result; thread-safe; runs the query at most once per TTL."""

    def __init__(self, name: str, query: RowsQuery, ttl_seconds: float) -> None:
        self.name = name
        self._query = query
        self._ttl = ttl_seconds
        self._lock = threading.Lock()
        self._rows: list[Sequence[Any]] = []
        self._fetched_at = -math.inf
        self._failing = False

    def rows(self) -> list[Sequence[Any]]:
        with self._lock:
            now = time.monotonic()
            if now - self._fetched_at < self._ttl:
                return self._rows
            try:
                # Collected in the metric reader's thread: no trace per collection.
                with suppress_instrumentation():
                    self._rows = list(self._query())
            except Exception:
                if not self._failing:
                    logger.warning(
                        "max-otel: query for gauge %s failed; reporting no value",
                        self.name,
                        exc_info=True,
                    )
                self._failing = True
                self._rows = []
            else:
                if self._failing:
                    logger.info("max-otel: query for gauge %s works again", self.name)
                self._failing = False
            self._fetched_at = now
            return self._rows


class DatabaseGaugeCollector:
    """Registers observable gauges of the catalogue whose values come from queries.

    ``enabled`` is True/False or a ``() -> bool`` asked at every collection (a
    :class:`RedisLeaderLock`, say); by default ``MAX_OTEL_DB_GAUGES`` decides. ``ttl_seconds``
    (default ``MAX_OTEL_DB_GAUGES_TTL``, else 10) is how long a result is reused. Callbacks
    never raise.
    """

    def __init__(
        self,
        meter: Meter | None = None,
        *,
        enabled: bool | Callable[[], bool] | None = None,
        ttl_seconds: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        self._meter = meter or otel_metrics.get_meter(METER_NAME)
        if enabled is None:
            self._enabled: Callable[[], bool] = lambda: environment_switch(environ)
        elif isinstance(enabled, bool):
            self._enabled = lambda: enabled
        else:
            self._enabled = enabled
        self.ttl_seconds = _resolve_ttl(ttl_seconds, environ)
        self._queries: dict[str, _CachedRows] = {}

    def observe(self, name: str, query: RowsQuery) -> None:
        """Register the catalogue gauge ``name``, read by ``query``; once per name."""
        metric = definition(name)
        if (
            metric.kind is not MetricKind.OBSERVABLE_GAUGE
            or metric.source is not Source.SOURCE_OF_TRUTH
        ):
            raise ValueError(
                f"name must be a database-backed gauge of the catalogue; got {name!r} "
                f"({metric.kind.value}, {metric.source.value})"
            )
        if name in self._queries:
            raise ValueError(f"name must be observed once per collector; got {name!r} twice")
        cached = _CachedRows(name, query, self.ttl_seconds)
        self._queries[name] = cached
        labels = metric.labels

        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            return self._observations(cached, labels)

        self._meter.create_observable_gauge(
            metric.name, callbacks=[callback], unit=metric.unit, description=metric.description
        )

    def _observations(self, cached: _CachedRows, labels: tuple[str, ...]) -> list[Observation]:
        try:
            if not self._enabled():
                return []
            observations = []
            for row in cached.rows():
                if len(row) != len(labels) + 1:
                    logger.warning(
                        "max-otel: gauge %s row %r must have %d items (%s, value); skipped",
                        cached.name,
                        row,
                        len(labels) + 1,
                        ", ".join(labels),
                    )
                    continue
                attributes = {
                    label: _MISSING_LABEL_VALUE if value is None else str(value)
                    for label, value in zip(labels, row[:-1], strict=True)
                }
                observations.append(Observation(float(row[-1]), attributes))
            return observations
        except Exception:
            logger.exception("max-otel: collecting gauge %s failed", cached.name)
            return []


def sql_rows(engine: Any, sql: str, parameters: Mapping[str, Any] | None = None) -> RowsQuery:
    """A :data:`RowsQuery` that runs ``sql`` on a SQLAlchemy ``engine`` (one connection)."""
    from sqlalchemy import text

    statement = text(sql)

    def query() -> list[Sequence[Any]]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement, dict(parameters or {}))]

    return query


def _resolve_ttl(explicit: float | None, environ: Mapping[str, str]) -> float:
    if explicit is not None:
        ttl = explicit
    elif environ.get(MAX_OTEL_DB_GAUGES_TTL):
        raw = environ[MAX_OTEL_DB_GAUGES_TTL]
        try:
            ttl = float(raw)
        except ValueError:
            raise ValueError(
                f"{MAX_OTEL_DB_GAUGES_TTL} must be a number of seconds; got {raw!r}"
            ) from None
    else:
        ttl = _DEFAULT_TTL_SECONDS
    if ttl < 0 or math.isnan(ttl):
        raise ValueError(f"ttl_seconds must be zero or more; got {ttl}")
    return ttl
