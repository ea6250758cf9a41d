"""``audit verify`` finds every change made behind the database's back."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from max_otel.instrumentation.audit import Actor, AuditTrail, verify_chain
from max_otel.instrumentation.audit._chain import canonical_row, row_hash
from max_otel.instrumentation.audit.cli import main as audit_main
from tests.instrumentation.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration

# Strings that JSON escapes differently in careless implementations: the trigger (in SQL)
# and verify (in Python) must produce the same canonical bytes for all of them.
AWKWARD_VALUES = [
    'quote " backslash \\ slash /',
    "tab\tnewline\ncarriage\rbell\x07 formfeed\x0c escape\x1b",
    "accents é ü ñ, CJK 漢字, emoji 🎉, line separator \u2028, DEL \x7f",
    "",
]


def _write_events(trail: AuditTrail, count: int, conversation_id: str = "c-1") -> list[int]:
    ids = []
    for number in range(count):
        row_id = trail.conversation_state_changed(
            conversation_id,
            actor=Actor.user(f"u-{number}"),
            old_state="open",
            new_state="assigned",
            details={"note": AWKWARD_VALUES[number % len(AWKWARD_VALUES)], "n": number},
        )
        assert row_id is not None
        ids.append(row_id)
    return ids


def _tamper(audit_db: AuditDatabase, statement: str, **params: object) -> None:
    """What a superuser can always do: switch the triggers off and edit rows."""
    with audit_db.superuser.begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement), params)


def _verify_cli(audit_db: AuditDatabase, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = audit_main(["verify", "--database-url", audit_db.app_url])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_an_untouched_chain_verifies(audit_db: AuditDatabase, trail: AuditTrail, capsys):
    _write_events(trail, 12)
    trail.user_logged_in("u-1", method="sso")
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert report.ok, report.problems
    assert report.rows == 13
    status, output = _verify_cli(audit_db, capsys)
    assert status == 0
    assert "audit verify: OK: 13 rows" in output


def test_a_row_changed_behind_its_back_is_found(audit_db: AuditDatabase, trail: AuditTrail, capsys):
    ids = _write_events(trail, 10)
    _tamper(
        audit_db,
        'UPDATE conversation_events SET new_value = \'{"state": "closed"}\' WHERE id = :id',
        id=ids[4],
    )
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert [problem.row_id for problem in report.problems] == [ids[4]]
    assert "was changed" in report.problems[0].reason
    status, output = _verify_cli(audit_db, capsys)
    assert status == 1
    assert f"first broken row id {ids[4]}" in output


def test_a_changed_and_rehashed_row_is_found_at_the_next_row(
    audit_db: AuditDatabase, trail: AuditTrail
):
    """An attacker who recomputes the changed row's own hash still breaks the next link."""
    ids = _write_events(trail, 6)
    with audit_db.superuser.connect() as connection:
        row = connection.execute(
            text(
                "SELECT id, created_at, event_type, actor_type, conversation_id, "
                "old_value::text AS old, new_value::text AS new, prev_hash "
                "FROM conversation_events WHERE id = :id"
            ),
            {"id": ids[2]},
        ).one()
    forged = row_hash(
        row.prev_hash,
        canonical_row(
            row.id,
            row.created_at,
            row.event_type,
            row.actor_type,
            "u-innocent",
            row.conversation_id,
            row.old,
            row.new,
        ),
    )
    _tamper(
        audit_db,
        "UPDATE conversation_events SET actor_id = 'u-innocent', row_hash = :forged WHERE id = :id",
        forged=forged,
        id=ids[2],
    )
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert [problem.row_id for problem in report.problems] == [ids[3]]
    assert "prev_hash does not match" in report.problems[0].reason


def test_a_row_deleted_from_the_middle_is_found(audit_db: AuditDatabase, trail: AuditTrail):
    ids = _write_events(trail, 8)
    _tamper(audit_db, "DELETE FROM conversation_events WHERE id = :id", id=ids[3])
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert report.problems[0].row_id == ids[4]
    assert "removed" in report.problems[0].reason


def test_rows_deleted_from_the_end_are_found_through_the_chain_head(
    audit_db: AuditDatabase, trail: AuditTrail
):
    ids = _write_events(trail, 8)
    _tamper(audit_db, "DELETE FROM conversation_events WHERE id >= :id", id=ids[6])
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert not report.ok
    assert "chain head records 8 rows" in report.problems[0].reason


def test_a_dropped_partition_that_was_never_archived_is_found(
    audit_db: AuditDatabase, trail: AuditTrail
):
    _write_events(trail, 3)
    with audit_db.owner.begin() as connection:
        partition = connection.execute(
            text("SELECT tableoid::regclass::text FROM conversation_events LIMIT 1")
        ).scalar_one()
        connection.execute(text(f"DROP TABLE {partition}"))
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
    assert report.problems[0].partition == partition
    assert "partition is missing" in report.problems[0].reason


def test_concurrent_writers_form_one_unbroken_chain(audit_db: AuditDatabase, trail: AuditTrail):
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            _write_events(trail, 15, conversation_id=f"c-{number}")
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    with audit_db.app.connect() as connection:
        report = verify_chain(connection)
        ids = connection.execute(text("SELECT id FROM conversation_events ORDER BY id")).scalars()
        assert list(ids) == list(range(1, 61))
    assert report.ok, report.problems
    assert report.rows == 60
