"""The database itself keeps the audit trail append-only, whoever connects."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from max_otel.instrumentation.audit import Actor, AuditTrail, search_events
from tests.instrumentation.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration


def _one_event(trail: AuditTrail) -> int:
    row_id = trail.conversation_state_changed(
        "c-1", actor=Actor.user("u-1"), old_state="open", new_state="closed"
    )
    assert row_id is not None
    return row_id


def _refused(engine, statement: str) -> str:
    with engine.connect() as connection, pytest.raises(DBAPIError) as raised:
        connection.execute(text(statement))
    return str(raised.value.orig)


@pytest.mark.parametrize(
    "statement",
    [
        'UPDATE conversation_events SET new_value = \'{"state": "open"}\'',
        "DELETE FROM conversation_events",
        "TRUNCATE conversation_events",
    ],
)
def test_application_role_cannot_change_or_remove_audit_rows(
    audit_db: AuditDatabase, trail: AuditTrail, statement: str
):
    _one_event(trail)
    assert "permission denied" in _refused(audit_db.app, statement)
    with audit_db.app.connect() as connection:
        assert len(search_events(connection, conversation_id="c-1")) == 1


def test_application_role_cannot_drop_or_detach_a_partition(
    audit_db: AuditDatabase, trail: AuditTrail
):
    _one_event(trail)
    with audit_db.app.connect() as connection:
        partition = connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'conversation_events'::regclass ORDER BY 1 LIMIT 1"
            )
        ).scalar_one()
    assert "must be owner" in _refused(audit_db.app, f"DROP TABLE {partition}")
    assert "must be owner" in _refused(
        audit_db.app, f"ALTER TABLE conversation_events DETACH PARTITION {partition}"
    )


def test_application_role_cannot_write_ids_times_or_hashes(audit_db: AuditDatabase):
    """Only the six descriptive columns are granted: no backdating, no forged hash."""
    message = _refused(
        audit_db.app,
        "INSERT INTO conversation_events (event_type, actor_type, created_at) "
        "VALUES ('auth.login', 'user', '2020-01-01T00:00:00Z')",
    )
    assert "permission denied" in message
    message = _refused(
        audit_db.app,
        "INSERT INTO conversation_events (event_type, actor_type, row_hash) "
        "VALUES ('auth.login', 'user', 'forged')",
    )
    assert "permission denied" in message


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE conversation_events SET actor_id = 'someone-else'",
        "DELETE FROM conversation_events",
        "TRUNCATE conversation_events",
        "DELETE FROM conversation_events_chain_heads",
    ],
)
def test_even_the_owner_is_refused_by_the_triggers(
    audit_db: AuditDatabase, trail: AuditTrail, statement: str
):
    _one_event(trail)
    assert "is append-only" in _refused(audit_db.owner, statement)


def test_truncating_a_partition_directly_is_refused(audit_db: AuditDatabase, trail: AuditTrail):
    row_id = _one_event(trail)
    with audit_db.owner.connect() as connection:
        partition = connection.execute(
            text("SELECT tableoid::regclass::text FROM conversation_events WHERE id = :id"),
            {"id": row_id},
        ).scalar_one()
    assert "is append-only" in _refused(audit_db.owner, f"TRUNCATE {partition}")


def test_the_database_assigns_id_and_hashes_whatever_the_owner_sends(
    audit_db: AuditDatabase, trail: AuditTrail
):
    first = _one_event(trail)
    with audit_db.owner.begin() as connection:
        row = connection.execute(
            text(
                "INSERT INTO conversation_events "
                "(id, event_type, actor_type, prev_hash, row_hash) "
                "VALUES (424242, 'auth.login', 'user', 'forged', 'forged') "
                "RETURNING id, prev_hash, row_hash"
            )
        ).one()
        previous = connection.execute(
            text("SELECT row_hash FROM conversation_events WHERE id = :id"), {"id": first}
        ).scalar_one()
    assert row.id == first + 1
    assert row.prev_hash == previous
    assert row.row_hash != "forged" and len(row.row_hash) == 64


def test_application_role_cannot_create_tables_beside_the_audit_trail(
    audit_db: AuditDatabase,
):
    """No shadow table or function can be planted next to the trail by the service."""
    with audit_db.app.connect() as connection, pytest.raises(ProgrammingError):
        connection.execute(text("CREATE TABLE public.conversation_events_shadow (id int)"))
