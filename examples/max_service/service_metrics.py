"""The metrics catalogue, recorded where the sample service's events happen.

The API and the worker record max-otel's catalogue (``docs/metrics.md``) through one
``MaxMetrics`` per process, on the meter provider ``opentelemetry-instrument`` set up (without
it, every call is a no-op). Each function below takes the domain objects at hand, computes the
labels and durations, and records once the change it counts is committed::

    conversation_created(conversation)                 # conversations_total{channel,team}
    message_received(conversation)                     # messages_total{direction="inbound"...}
    conversation_assigned(team.name, created_at)       # queue_time_seconds{team}
    first_response(conversation, agent_id, replied_at) # first_response_time_seconds{team}
    message_sent(channel, agent_id)                    # messages_total{direction="outbound"...}
    conversation_closed(conversation)                  # conversations_closed_total, resolution
    integration_request("notify_assignment", succeeded=False, seconds=2.0)   # adapter="crm"

SQL statements are timed by :func:`time_queries` (``db.py`` calls it on its engine) and Celery
tasks by :func:`time_tasks` (the worker calls it in each pool process).

Recording never breaks a request: every function here catches its own errors (a timestamp
without a time zone, an attribute missing...), logs the first failure of each function with
its traceback as ``metrics.record_failed``, and returns.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec

from max_otel.instrumentation.metrics import MaxMetrics, record_query_metrics, record_task_metrics
from max_service.models import UNASSIGNED_TEAM, Conversation, utc_now

logger = logging.getLogger(__name__)

CRM_ADAPTER = "crm"
"""The ``adapter`` label of the CRM integration (``integration.py``)."""

recorder = MaxMetrics()
"""This process's recorder (the global meter provider's meter ``max_otel.metrics``)."""

_P = ParamSpec("_P")
_failed: set[str] = set()


def _never_raises(function: Callable[_P, None]) -> Callable[_P, None]:
    """Catch every error of ``function``; log the first one of each function only."""

    @functools.wraps(function)
    def guarded(*args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except Exception:
            if function.__name__ not in _failed:
                _failed.add(function.__name__)
                logger.exception("metrics.record_failed", extra={"metric_event": function.__name__})

    return guarded


def seconds_between(start: datetime, end: datetime) -> float:
    """Seconds from ``start`` to ``end`` (never negative); naive values are taken as UTC.

    SQLite hands timezone-aware columns back without their zone, PostgreSQL with it.
    """
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return max(0.0, (end - start).total_seconds())


def _team(conversation: Conversation) -> str:
    return conversation.team or UNASSIGNED_TEAM


# --- conversations ----------------------------------------------------------------------------


@_never_raises
def conversation_created(conversation: Conversation) -> None:
    """A customer's message opened ``conversation`` (not routed yet: team ``unassigned``)."""
    recorder.conversation_created(channel=conversation.channel, team=_team(conversation))


@_never_raises
def conversation_assigned(
    team: str, created_at: datetime, assigned_at: datetime | None = None
) -> None:
    """Triage gave a queued conversation to ``team``: its time in queue."""
    recorder.conversation_assigned(
        team=team, queue_seconds=seconds_between(created_at, assigned_at or utc_now())
    )


@_never_raises
def first_response(
    conversation: Conversation, agent_id: uuid.UUID | None, replied_at: datetime
) -> None:
    """The first agent reply in ``conversation``, at ``replied_at`` (FRT, also per agent)."""
    recorder.first_response(
        team=_team(conversation),
        seconds=seconds_between(conversation.created_at, replied_at),
        agent_id=None if agent_id is None else str(agent_id),
    )


@_never_raises
def conversation_closed(conversation: Conversation) -> None:
    """``conversation`` was closed (at its ``closed_at``): count and resolution time."""
    closed_at = conversation.closed_at or utc_now()
    recorder.conversation_closed(
        channel=conversation.channel,
        team=_team(conversation),
        resolution_seconds=seconds_between(conversation.created_at, closed_at),
    )


# --- messages ---------------------------------------------------------------------------------


@_never_raises
def message_received(conversation: Conversation) -> None:
    """A customer's message was stored in ``conversation``."""
    recorder.message(direction="inbound", channel=conversation.channel, status="received")


@_never_raises
def message_sent(channel: str, agent_id: uuid.UUID | None) -> None:
    """An agent's reply was delivered to the customer (counted for the agent too)."""
    recorder.message(
        direction="outbound",
        channel=channel,
        status="sent",
        agent_id=None if agent_id is None else str(agent_id),
    )


# --- integrations, database, tasks -------------------------------------------------------------


@_never_raises
def integration_request(operation: str, *, succeeded: bool, seconds: float) -> None:
    """One CRM call; a timeout or an error is ``succeeded=False`` (``status="failed"``)."""
    recorder.integration_request(
        adapter=CRM_ADAPTER, operation=operation, succeeded=succeeded, seconds=seconds
    )


@_never_raises
def time_queries(engine: Any) -> None:
    """Time every statement of ``engine`` (``db_query_duration_seconds``); once per engine."""
    record_query_metrics(engine, recorder)


@_never_raises
def time_tasks() -> None:
    """Record this worker process's Celery tasks (``celery_tasks_total``...); idempotent."""
    record_task_metrics(recorder)
