"""``max-otel db slow-queries``: the slowest statements from ``pg_stat_statements``.

::

    max-otel db slow-queries --database-url postgresql://max@db/max            # table
    max-otel db slow-queries --threshold-ms 200 --limit 10 --json              # JSON

``--database-url`` defaults to ``MAX_DATABASE_URL``; ``--threshold-ms`` to
``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS`` (1000). Exit status: 0 report printed, 1 the database
or the extension is unavailable, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys

from sqlalchemy import create_engine
from sqlalchemy.exc import SQLAlchemyError

# The same libpq URL -> psycopg 3 SQLAlchemy URL rule as the audit commands, in one place.
from max_otel.instrumentation.audit._database import sqlalchemy_url
from max_otel.instrumentation.slow_queries.errors import ExtensionMissingError
from max_otel.instrumentation.slow_queries.hook import redaction_scrubber
from max_otel.instrumentation.slow_queries.report import (
    format_json,
    format_table,
    slow_statements,
)
from max_otel.instrumentation.slow_queries.threshold import slow_query_threshold_seconds

DATABASE_URL = "MAX_DATABASE_URL"
"""The service database's URL, the default of ``--database-url`` (the sample service's too)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="max-otel db", description="database reports")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("slow-queries", help="statements slower than the threshold")
    report.add_argument("--database-url", help=f"default: ${DATABASE_URL}")
    report.add_argument("--threshold-ms", type=float, help="default: 1000 or the env setting")
    report.add_argument("--limit", type=int, default=20)
    report.add_argument("--all-databases", action="store_true")
    report.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: list[str]) -> int:
    """Run ``max-otel db ...``; return the exit status."""
    args = _parser().parse_args(argv)
    url = args.database_url or os.environ.get(DATABASE_URL)
    if not url:
        print(
            f"max-otel db: --database-url or {DATABASE_URL} must be set; got neither",
            file=sys.stderr,
        )
        return 2
    try:
        threshold_ms = (
            args.threshold_ms
            if args.threshold_ms is not None
            else slow_query_threshold_seconds() * 1000.0
        )
        if threshold_ms < 0:
            raise ValueError(f"--threshold-ms must be zero or more; got {threshold_ms}")
        engine = create_engine(sqlalchemy_url(url), pool_size=1)
    except ValueError as error:
        print(f"max-otel db: {error}", file=sys.stderr)
        return 2
    try:
        with engine.connect() as connection:
            statements = slow_statements(
                connection,
                threshold_ms=threshold_ms,
                limit=args.limit,
                all_databases=args.all_databases,
                scrubber=redaction_scrubber(),
            )
    except ValueError as error:
        print(f"max-otel db slow-queries: {error}", file=sys.stderr)
        return 2
    except (ExtensionMissingError, SQLAlchemyError) as error:
        print(f"max-otel db slow-queries: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(format_json(statements) if args.json else format_table(statements))
    return 0
