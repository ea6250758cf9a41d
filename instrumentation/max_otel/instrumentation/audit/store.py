"""Appending events to ``conversation_events``, with PII pseudonymised first.

::

    store = AuditStore(engine, redactor)        # engine connects as the application role
    stored = store.append(AuditEvent(EventType.USER_LOGGED_IN, Actor.user("u-17")))
    stored.id, stored.row_hash

Each append is one ``INSERT``; the database assigns ``id``, ``created_at``, ``prev_hash`` and
``row_hash`` (see ``schema.sql``). Without ``connection`` the event is committed on its own
transaction at once; with one, it is written inside the caller's transaction (under a
savepoint, so a failed audit write leaves that transaction usable) and commits or rolls back
with the change it records. Keep such transactions short: the month's chain is locked from the
insert until the transaction ends, so every other audit write waits for it.

``old_value`` and ``new_value`` go through ``Redactor.redact_value`` (phones and emails become
keyed pseudonyms with ``MAX_OTEL_PSEUDONYM_KEY``, the same as in logs and traces; secrets are
masked). ``conversation_id`` and ``actor_id`` are ids and are stored as given.

``append`` raises on failure (``sqlalchemy.exc.SQLAlchemyError``); :class:`AuditTrail` decides
whether that fails the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.exc import IntegrityError

from max_otel.instrumentation.audit._schema import create_partitions, month_start
from max_otel.instrumentation.audit._tables import conversation_events
from max_otel.instrumentation.audit.events import AuditEvent
from max_otel.processors.redaction import DROP, RedactionHits, Redactor

_CHECK_VIOLATION = "23514"  # what "no partition of relation ... found for row" raises
_PARTITIONS_CREATED_ON_DEMAND = 2  # this month and the next


@dataclass(frozen=True)
class StoredEvent:
    """What the database assigned to an appended event."""

    id: int
    created_at: datetime
    row_hash: str


class AuditStore:
    """Appends audit events to the trail through ``engine`` (the application role)."""

    def __init__(self, engine: Engine, redactor: Redactor) -> None:
        self._engine = engine
        self._redactor = redactor

    @property
    def engine(self) -> Engine:
        return self._engine

    def append(self, event: AuditEvent, *, connection: Connection | None = None) -> StoredEvent:
        """Store ``event``; return its id, time and hash. Raises on failure."""
        values = self._row_values(event)
        if connection is not None:
            return self._append_in_savepoint(connection, values)
        try:
            with self._engine.begin() as own:
                return _insert(own, values)
        except IntegrityError as error:
            if not _is_missing_partition(error):
                raise
        # No partition for this month yet: create it (the function is granted to the
        # application role) and write again, once.
        with self._engine.begin() as own:
            _create_current_partitions(own)
        with self._engine.begin() as own:
            return _insert(own, values)

    def _row_values(self, event: AuditEvent) -> dict[str, Any]:
        hits = RedactionHits()
        return {
            "event_type": str(event.event_type),
            "actor_type": str(event.actor.type),
            "actor_id": event.actor.id,
            "conversation_id": event.conversation_id,
            "old_value": self._redacted("old_value", event.old_value, hits),
            "new_value": self._redacted("new_value", event.new_value, hits),
        }

    def _redacted(self, key: str, value: object, hits: RedactionHits) -> object:
        if value is None:
            return None
        redacted = self._redactor.redact_value(key, value, hits)
        return None if redacted is DROP else redacted

    def _append_in_savepoint(self, connection: Connection, values: dict[str, Any]) -> StoredEvent:
        try:
            with connection.begin_nested():
                return _insert(connection, values)
        except IntegrityError as error:
            if not _is_missing_partition(error):
                raise
        with connection.begin_nested():
            _create_current_partitions(connection)
        with connection.begin_nested():
            return _insert(connection, values)


def _insert(connection: Connection, values: dict[str, Any]) -> StoredEvent:
    statement = (
        insert(conversation_events)
        .values(**values)
        .returning(
            conversation_events.c.id,
            conversation_events.c.created_at,
            conversation_events.c.row_hash,
        )
    )
    row = connection.execute(statement).one()
    return StoredEvent(id=row.id, created_at=row.created_at, row_hash=row.row_hash)


def _create_current_partitions(connection: Connection) -> None:
    create_partitions(
        connection, month_start(datetime.now(UTC)), months=_PARTITIONS_CREATED_ON_DEMAND
    )


def _is_missing_partition(error: IntegrityError) -> bool:
    return getattr(error.orig, "sqlstate", None) == _CHECK_VIOLATION and "no partition" in str(
        error.orig
    )
