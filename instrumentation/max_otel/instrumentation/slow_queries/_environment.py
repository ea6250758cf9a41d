"""Environment variables read by the slow-query logging, each with its meaning and default.

Configuration precedence everywhere: explicit argument, then environment variable, then the
``_DEFAULT_*`` constant beside it.
"""

from __future__ import annotations

from max_otel.instrumentation.environment_variables import MAX_OTEL_SLOW_QUERY_THRESHOLD_MS

SLOW_QUERY_THRESHOLD_MS = MAX_OTEL_SLOW_QUERY_THRESHOLD_MS
"""Statements that take at least this many milliseconds are logged as ``db.slow_query`` (and
``max-otel db slow-queries`` reports statements whose mean time is above it). A positive
number. Default 1000 (the spec's "slow queries (> 1s)")."""

_DEFAULT_SLOW_QUERY_THRESHOLD_MS = 1000.0
