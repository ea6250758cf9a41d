"""Installing the schema, and searching the trail by conversation, actor and date range."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, text

from max_otel.instrumentation.audit import (
    AuditTrail,
    SchemaError,
    create_partitions,
    install_schema,
    list_partitions,
    search_events,
)
from max_otel.instrumentation.audit.cli import main as audit_main
from tests.instrumentation.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration


def _backdate(audit_db: AuditDatabase) -> None:
    with audit_db.owner.begin() as connection:
        create_partitions(connection, date(2025, 1, 1), months=3)
        connection.execute(
            text(
                "INSERT INTO conversation_events (event_type, actor_type, actor_id, "
                "conversation_id, new_value, created_at) VALUES "
                "('auth.login', 'user', 'u-1', NULL, '{\"method\": \"sso\"}', '2025-01-10T09:00Z'),"
                "('conversation.state_changed', 'user', 'u-1', 'c-1', '{\"state\": \"open\"}', "
                " '2025-01-10T09:05Z'),"
                "('conversation.state_changed', 'user', 'u-2', 'c-1', '{\"state\": \"closed\"}', "
                " '2025-02-20T10:00Z'),"
                "('auth.login', 'user', 'u-1', NULL, '{\"method\": \"sso\"}', '2025-03-01T08:00Z')"
            )
        )


def test_search_by_conversation_returns_its_whole_timeline_oldest_first(audit_db: AuditDatabase):
    _backdate(audit_db)
    with audit_db.app.connect() as connection:
        timeline = search_events(connection, conversation_id="c-1")
    assert [(e.actor_id, e.new_value["state"]) for e in timeline] == [
        ("u-1", "open"),
        ("u-2", "closed"),
    ]


def test_search_by_actor_and_date_range(audit_db: AuditDatabase):
    _backdate(audit_db)
    with audit_db.app.connect() as connection:
        january = search_events(
            connection,
            actor_id="u-1",
            since=datetime(2025, 1, 1, tzinfo=UTC),
            until=datetime(2025, 2, 1, tzinfo=UTC),
        )
        everything = search_events(connection, actor_id="u-1")
    assert [e.event_type for e in january] == ["auth.login", "conversation.state_changed"]
    assert len(everything) == 3


def test_search_needs_a_conversation_or_an_actor(audit_db: AuditDatabase):
    with (
        audit_db.app.connect() as connection,
        pytest.raises(ValueError, match="conversation_id or actor_id must be given"),
    ):
        search_events(connection, since=datetime(2025, 1, 1, tzinfo=UTC))


def test_search_command_prints_json_lines(audit_db: AuditDatabase, capsys):
    _backdate(audit_db)
    status = audit_main(
        [
            "search",
            "--database-url",
            audit_db.app_url,
            "--actor",
            "u-1",
            "--since",
            "2025-01-10T09:01",
            "--until",
            "2025-12-31",
        ]
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 0
    assert [(line["conversation_id"], line["created_at"]) for line in lines] == [
        ("c-1", "2025-01-10T09:05:00+00:00"),
        (None, "2025-03-01T08:00:00+00:00"),
    ]


def test_installing_again_upgrades_in_place_and_keeps_every_row(
    audit_db: AuditDatabase, trail: AuditTrail
):
    trail.user_logged_in("u-1", method="sso")
    with audit_db.owner.begin() as connection:
        install_schema(connection, app_role=audit_db.roles.app)
    assert trail.user_logged_out("u-1") is not None
    with audit_db.app.connect() as connection:
        assert len(search_events(connection, actor_id="u-1")) == 2


def test_install_creates_this_month_and_the_next_three(audit_db: AuditDatabase):
    with audit_db.app.connect() as connection:
        months = [p.month for p in list_partitions(connection)]
    this_month = datetime.now(UTC).date().replace(day=1)
    assert months[0] == this_month and len(months) == 4


def test_install_refuses_a_missing_role_or_an_invalid_name(audit_db: AuditDatabase):
    with audit_db.owner.begin() as connection, pytest.raises(SchemaError, match="does not exist"):
        install_schema(connection, app_role="no_such_role")
    with (
        audit_db.owner.begin() as connection,
        pytest.raises(ValueError, match="app_role must be a plain role name"),
    ):
        install_schema(connection, app_role='x"; DROP TABLE conversation_events; --')


def test_install_command_from_scratch(postgres_server, audit_db: AuditDatabase, capsys):
    """``max-otel audit install`` on an empty database, as the owner."""
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    name = audit_db.name + "_cli"
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} OWNER {audit_db.roles.owner}"))
    try:
        url = audit_db.owner_url.rsplit("/", 1)[0] + "/" + name
        status = audit_main(["install", "--database-url", url, "--app-role", audit_db.roles.app])
        assert status == 0
        assert "partitions created: 4" in capsys.readouterr().out
        assert audit_main(["verify", "--database-url", url]) == 0
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_commands_without_a_database_url_exit_2(monkeypatch, capsys):
    monkeypatch.delenv("MAX_OTEL_AUDIT_DATABASE_URL", raising=False)
    assert audit_main(["verify"]) == 2
    assert "MAX_OTEL_AUDIT_DATABASE_URL must be set" in capsys.readouterr().err
