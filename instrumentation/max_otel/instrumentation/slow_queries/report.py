"""The slow-query report: statements whose mean time is above a threshold, from
``pg_stat_statements`` (the spec's "Find slow queries" query)::

    with engine.connect() as connection:
        for statement in slow_statements(connection, threshold_ms=1000, limit=20):
            print(statement.mean_ms, statement.query)
    print(format_table(statements))

``pg_stat_statements`` stores statements normalised (constants become ``$1``, ``$2``...);
the text still goes through the scrubber, since utility statements are kept as written. It
needs ``shared_preload_libraries = 'pg_stat_statements'`` and ``CREATE EXTENSION
pg_stat_statements`` in the database queried (``docker/postgres/`` does both); other roles'
statements are visible only to superusers and members of ``pg_read_all_stats``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, text

from max_otel.instrumentation.slow_queries.errors import ExtensionMissingError
from max_otel.instrumentation.slow_queries.hook import StatementScrubber

_DEFAULT_LIMIT = 20
_QUERY_WIDTH = 80


@dataclass(frozen=True)
class SlowStatement:
    """One normalised statement and its timings (milliseconds)."""

    query: str
    calls: int
    mean_ms: float
    max_ms: float
    total_ms: float
    rows: int


def slow_statements(
    connection: Connection,
    *,
    threshold_ms: float,
    limit: int = _DEFAULT_LIMIT,
    all_databases: bool = False,
    scrubber: StatementScrubber | None = None,
) -> list[SlowStatement]:
    """The ``limit`` slowest statements by mean time above ``threshold_ms``, slowest first."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}")
    installed = connection.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
    ).first()
    if installed is None:
        raise ExtensionMissingError(
            "pg_stat_statements is not installed in this database: add it to "
            "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements"
        )
    database_filter = (
        ""
        if all_databases
        else "AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    rows = connection.execute(
        text(
            "SELECT query, calls, mean_exec_time, max_exec_time, total_exec_time, rows "
            "FROM pg_stat_statements "
            f"WHERE mean_exec_time > :threshold {database_filter} "
            "ORDER BY mean_exec_time DESC LIMIT :limit"
        ),
        {"threshold": threshold_ms, "limit": limit},
    )
    scrub = scrubber or _identity
    return [
        SlowStatement(
            query=scrub(row.query or ""),
            calls=int(row.calls),
            mean_ms=float(row.mean_exec_time),
            max_ms=float(row.max_exec_time),
            total_ms=float(row.total_exec_time),
            rows=int(row.rows),
        )
        for row in rows
    ]


def _identity(statement: str) -> str:
    return statement


def format_table(statements: Sequence[SlowStatement]) -> str:
    """A fixed-width table, slowest first; the query is shown on one line, cut to fit."""
    header = f"{'mean ms':>10} {'max ms':>10} {'calls':>8} {'total ms':>12}  query"
    lines = [header, "-" * (len(header) - len("query") + _QUERY_WIDTH)]
    for item in statements:
        query = " ".join(item.query.split())
        if len(query) > _QUERY_WIDTH:
            query = query[: _QUERY_WIDTH - 3] + "..."
        lines.append(
            f"{item.mean_ms:>10.1f} {item.max_ms:>10.1f} {item.calls:>8d} {item.total_ms:>12.1f}"
            f"  {query}"
        )
    if not statements:
        lines.append("(no statement above the threshold)")
    return "\n".join(lines)


def format_json(statements: Sequence[SlowStatement]) -> str:
    """The statements as a JSON array of objects."""
    return json.dumps([asdict(item) for item in statements], indent=2)
