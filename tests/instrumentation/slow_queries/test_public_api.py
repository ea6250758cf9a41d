"""The slow-query package exports exactly its documented API."""

from __future__ import annotations

import pytest

from max_otel.instrumentation import slow_queries

pytestmark = pytest.mark.unit


def test_all_is_the_documented_api_sorted():
    assert slow_queries.__all__ == [
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
    assert all(hasattr(slow_queries, name) for name in slow_queries.__all__)
