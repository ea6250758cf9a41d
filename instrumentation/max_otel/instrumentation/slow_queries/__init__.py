"""Slow-query logging for SQLAlchemy engines, and the ``pg_stat_statements`` report.

::

    from max_otel.instrumentation.slow_queries import install_slow_query_logging
    install_slow_query_logging(engine)        # db.slow_query log events above 1 s

and ``max-otel db slow-queries`` (see ``docs/audit.md`` and ``docs/logs.md``).
"""

from __future__ import annotations

from max_otel.instrumentation.slow_queries.errors import ExtensionMissingError
from max_otel.instrumentation.slow_queries.hook import (
    EVENT,
    SlowQueryLogger,
    StatementScrubber,
    install_slow_query_logging,
    redaction_scrubber,
)
from max_otel.instrumentation.slow_queries.report import (
    SlowStatement,
    format_json,
    format_table,
    slow_statements,
)
from max_otel.instrumentation.slow_queries.threshold import slow_query_threshold_seconds

__all__ = [
    "EVENT",
    "ExtensionMissingError",
    "SlowQueryLogger",
    "SlowStatement",
    "StatementScrubber",
    "format_json",
    "format_table",
    "install_slow_query_logging",
    "redaction_scrubber",
    "slow_query_threshold_seconds",
    "slow_statements",
]
