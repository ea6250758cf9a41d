"""Gauges read from the source of truth: active conversations, agent load, Celery backlog.

Each replica only sees its own requests, so these facts are read from the database and the
broker, by one process: the API registers them with a ``DatabaseGaugeCollector``, which only
collects where ``MAX_OTEL_DB_GAUGES=1`` (set it in exactly one API replica; the worker never
reads them)::

    observe_gauges(db.engine, realtime.client, settings.celery_queue)

- ``conversations_active{team,status}``: conversations not closed; ``status="queued"`` is the
  queue backlog. Queued conversations have no team yet (triage routes and assigns at once), so
  they count under ``team="unassigned"``. Every known team (and ``unassigned``) reports both
  statuses, 0 when it has none: an empty queue is a fact, not a gap in a graph.
- ``agent_active_conversations{agent_id}`` and ``agent_utilization_ratio{agent_id}``
  (active / ``AGENT_CAPACITY``): every known agent, 0 when idle.
- ``celery_queue_length{queue}``: ``LLEN`` of the service's Celery queue in Redis.

Queries use SQLAlchemy's types, so agent ids come out as UUIDs with dashes on SQLite and
PostgreSQL alike. A failing query leaves the gauge without a value for that collection (the
collector logs it), never with a wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, func, select

from max_otel.instrumentation.metrics import DatabaseGaugeCollector, RowsQuery
from max_service.models import (
    STATUS_ASSIGNED,
    STATUS_CLOSED,
    STATUS_QUEUED,
    UNASSIGNED_TEAM,
    Conversation,
)
from max_service.triage import AGENT_CAPACITY, TEAMS

_REPORTED_STATUSES = (STATUS_QUEUED, STATUS_ASSIGNED)


def conversations_by_team_and_status(engine: Engine) -> RowsQuery:
    """Rows ``(team, status, count)`` of the conversations not closed, zeros included."""
    statement = (
        select(Conversation.team, Conversation.status, func.count())
        .where(Conversation.status != STATUS_CLOSED)
        .group_by(Conversation.team, Conversation.status)
    )

    def query() -> list[Sequence[Any]]:
        counts = {
            (team, status): 0 for team in (*TEAMS, UNASSIGNED_TEAM) for status in _REPORTED_STATUSES
        }
        with engine.connect() as connection:
            for team, status, count in connection.execute(statement):
                key = (team or UNASSIGNED_TEAM, status)
                counts[key] = counts.get(key, 0) + count
        return [(team, status, count) for (team, status), count in counts.items()]

    return query


def _active_per_agent(engine: Engine) -> dict[str, int]:
    statement = (
        select(Conversation.assigned_to, func.count())
        .where(Conversation.status == STATUS_ASSIGNED)
        .where(Conversation.assigned_to.is_not(None))
        .group_by(Conversation.assigned_to)
    )
    counts = {str(agent): 0 for team in TEAMS.values() for agent in team.agents}
    with engine.connect() as connection:
        for agent, count in connection.execute(statement):
            counts[str(agent)] = count
    return counts


def conversations_per_agent(engine: Engine) -> RowsQuery:
    """Rows ``(agent_id, count)`` of assigned, open conversations, zeros for idle agents."""

    def query() -> Iterable[Sequence[Any]]:
        return list(_active_per_agent(engine).items())

    return query


def agent_utilisation(engine: Engine, capacity: int = AGENT_CAPACITY) -> RowsQuery:
    """Rows ``(agent_id, active / capacity)``."""

    def query() -> Iterable[Sequence[Any]]:
        return [(agent, count / capacity) for agent, count in _active_per_agent(engine).items()]

    return query


def queue_length(redis_client: Any, queue: str) -> RowsQuery:
    """Rows ``(queue, tasks waiting)`` of the Celery queue ``queue`` (a Redis list)."""

    def query() -> Iterable[Sequence[Any]]:
        return [(queue, int(redis_client.llen(queue)))]

    return query


def observe_gauges(
    engine: Engine,
    redis_client: Any,
    queue: str,
    collector: DatabaseGaugeCollector | None = None,
) -> DatabaseGaugeCollector:
    """Register the four gauges on ``collector`` (default: switched by MAX_OTEL_DB_GAUGES)."""
    collector = collector or DatabaseGaugeCollector()
    collector.observe("conversations_active", conversations_by_team_and_status(engine))
    collector.observe("agent_active_conversations", conversations_per_agent(engine))
    collector.observe("agent_utilization_ratio", agent_utilisation(engine))
    collector.observe("celery_queue_length", queue_length(redis_client, queue))
    return collector
