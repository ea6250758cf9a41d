"""Environment variables read by the metrics catalogue (explicit arguments always win)."""

from __future__ import annotations

MAX_OTEL_DB_GAUGES = "MAX_OTEL_DB_GAUGES"
"""``1``/``true`` makes this process the one that reads database-backed gauges
(``conversations_active``, ``agent_active_conversations``, ``celery_queue_length``...).
Set it in exactly one replica, or use :class:`RedisLeaderLock` instead. Default: off."""

MAX_OTEL_DB_GAUGES_TTL = "MAX_OTEL_DB_GAUGES_TTL"
"""Seconds a database gauge query result is reused before the query runs again.
Default: 10."""
