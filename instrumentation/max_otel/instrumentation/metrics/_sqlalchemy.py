"""SQL statement latency and slow queries of a SQLAlchemy engine, from engine events::

    from max_otel.instrumentation.metrics import MaxMetrics, record_query_metrics
    record_query_metrics(engine, MaxMetrics())

Every statement records ``db_query_duration_seconds{operation}``; one at or above the
recorder's ``slow_query_seconds`` (1 s, the spec's slow-query threshold) also counts in
``db_slow_queries_total{operation}``. ``operation`` is the statement's first keyword
(``SELECT``, ``INSERT``...), ``OTHER`` for anything else, so no statement text (and no
literal in it) ever becomes a label. The OpenTelemetry SQLAlchemy instrumentation already
reports the connection pool (``db_client_connections_usage{state}``). Listeners never raise.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import event

from max_otel.instrumentation.metrics._recorder import MaxMetrics

logger = logging.getLogger(__name__)

_KNOWN_OPERATIONS = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "WITH",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "CREATE",
        "ALTER",
        "DROP",
        "TRUNCATE",
        "COPY",
        "CALL",
        "SET",
        "SHOW",
        "EXPLAIN",
        "LOCK",
        "VACUUM",
    }
)
_START_KEY = "max_otel_query_started"


def statement_operation(statement: str) -> str:
    """The SQL keyword a statement starts with, or ``OTHER`` (bounded label values)."""
    words = statement.lstrip(" \t\r\n(").split(None, 1)
    keyword = words[0].upper() if words else ""
    return keyword if keyword in _KNOWN_OPERATIONS else "OTHER"


def record_query_metrics(engine: Any, recorder: MaxMetrics) -> None:
    """Time every statement ``engine`` runs (sync ``Engine``, or an ``AsyncEngine``)."""
    sync_engine = getattr(engine, "sync_engine", engine)

    def before(conn: Any, *_args: Any) -> None:
        try:
            conn.info.setdefault(_START_KEY, []).append(time.perf_counter())
        except Exception:
            logger.debug("max-otel: could not time a statement", exc_info=True)

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        try:
            starts = conn.info.get(_START_KEY)
            if starts:
                started = starts.pop()
                recorder.db_query(
                    operation=statement_operation(statement),
                    seconds=time.perf_counter() - started,
                )
        except Exception:
            logger.debug("max-otel: could not record a statement", exc_info=True)

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
