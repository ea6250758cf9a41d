"""Searching the audit trail by conversation, by actor, and by date range.

::

    with engine.connect() as connection:
        for record in search_events(connection, conversation_id="c-42"):
            print(record.created_at, record.event_type, record.new_value)
        search_events(connection, actor_id="u-7", since=datetime(2026, 1, 1, tzinfo=UTC),
                      until=datetime(2026, 2, 1, tzinfo=UTC))

At least one of ``conversation_id`` and ``actor_id`` is required (a search of everything is
``audit archive``'s job). Results come oldest first, at most ``limit``. The indexes on
``(conversation_id, created_at)`` and ``(actor_id, created_at)`` serve these queries, and a
date range lets PostgreSQL skip the months outside it; ``bench/audit_query.py`` measures them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from max_otel.instrumentation.audit._tables import conversation_events
from max_otel.instrumentation.audit.events import AuditRecord

_DEFAULT_LIMIT = 1000


def search_events(
    connection: Connection,
    *,
    conversation_id: str | None = None,
    actor_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = _DEFAULT_LIMIT,
) -> list[AuditRecord]:
    """Events matching every given criterion, oldest first (``until`` is exclusive)."""
    if conversation_id is None and actor_id is None:
        raise ValueError("conversation_id or actor_id must be given; got neither")
    if limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}")
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware; got {moment.isoformat()}")
    table = conversation_events
    query = select(table)
    if conversation_id is not None:
        query = query.where(table.c.conversation_id == conversation_id)
    if actor_id is not None:
        query = query.where(table.c.actor_id == actor_id)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    if until is not None:
        query = query.where(table.c.created_at < until)
    query = query.order_by(table.c.created_at, table.c.id).limit(limit)
    return [
        AuditRecord(
            id=row.id,
            created_at=row.created_at,
            event_type=row.event_type,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            conversation_id=row.conversation_id,
            old_value=row.old_value,
            new_value=row.new_value,
            prev_hash=row.prev_hash,
            row_hash=row.row_hash,
        )
        for row in connection.execute(query)
    ]
