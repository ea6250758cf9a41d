"""The sample service keeps the spec's audit trail (section 9) through max-otel.

A separate audit database on the real PostgreSQL, owned by a migration role and installed with
``max-otel audit install``; the sample service (API and Celery worker) writes to it as the
application role, which may only insert and read. One conversation is driven through the
whole flow (webhook, triage with the CRM call, a denied and a granted agent reply, close) and
then read back with ``max-otel audit search`` and checked with ``max-otel audit verify``, the
way an auditor would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from max_service_launch.local_servers import PostgresServer, RedisServer
from max_service_launch.sample_service import (
    TEST_PSEUDONYM_KEY,
    SampleService,
    ServiceStartError,
    postgres_database,
)

from max_otel.instrumentation.audit import (
    Actor,
    AuditRecord,
    AuditTrail,
    AuditWriteError,
    FailurePolicy,
    search_events,
    set_audit_trail,
)
from max_otel.processors.redaction import PseudonymKey
from max_service import audit_trail
from max_service.triage import TEAMS
from tests.support.crm_endpoint import CrmEndpoint

MAX_OTEL = Path(sys.executable).parent / "max-otel"
AGENT_HEADER = "X-Agent-ID"
PHONE = "+5511987650001"
CUSTOMER = "Ana Souza"
INTEGRATION_TIMEOUT_SECONDS = 0.5
EVENT_WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class AuditDatabase:
    """A fresh audit database and the libpq URLs of its owner and application roles."""

    owner_url: str
    app_url: str
    app_role: str


@dataclass(frozen=True)
class DrivenConversation:
    """The conversation driven through the whole flow, and who handled it."""

    id: str
    agent: str
    other_team_agent: str


def _libpq_url(server: PostgresServer, role: str, database: str) -> str:
    return f"postgresql://{role}@127.0.0.1:{server.port}/{database}"


def _max_otel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAX_OTEL), *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def audit_database(postgres_server: PostgresServer) -> Iterator[AuditDatabase]:
    """Owner and application roles, their audit database, schema installed by the CLI."""
    suffix = uuid.uuid4().hex[:8]
    owner, app, name = f"audit_owner_{suffix}", f"max_app_{suffix}", f"max_audit_{suffix}"
    admin = sqlalchemy.create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE ROLE {owner} LOGIN"))
        connection.execute(sqlalchemy.text(f"CREATE ROLE {app} LOGIN"))
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name} OWNER {owner}"))
    try:
        database = AuditDatabase(
            owner_url=_libpq_url(postgres_server, owner, name),
            app_url=_libpq_url(postgres_server, app, name),
            app_role=app,
        )
        installed = _max_otel(
            "audit", "install", "--database-url", database.owner_url, "--app-role", app
        )
        assert installed.returncode == 0, installed.stderr
        yield database
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(sqlalchemy.text(f"DROP ROLE IF EXISTS {app}"))
            connection.execute(sqlalchemy.text(f"DROP ROLE IF EXISTS {owner}"))
        admin.dispose()


@pytest.fixture(scope="module")
def app_engine(audit_database: AuditDatabase) -> Iterator[sqlalchemy.Engine]:
    """The audit database as the application role (what the services connect as)."""
    engine = sqlalchemy.create_engine(
        audit_database.app_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisServer,
    postgres_server: PostgresServer,
    audit_database: AuditDatabase,
    crm: CrmEndpoint,
) -> Iterator[SampleService]:
    with ExitStack() as stack:
        service_database = stack.enter_context(postgres_database(postgres_server.url))
        yield stack.enter_context(
            SampleService(
                tmp_path_factory.mktemp("audited"),
                redis_url=redis_server.url,
                database_url=service_database,
                instrumented=False,
                env={
                    "MAX_OTEL_AUDIT_DATABASE_URL": audit_database.app_url,
                    "MAX_OTEL_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
                    "MAX_INTEGRATION_URL": crm.url,
                    "MAX_INTEGRATION_TIMEOUT": str(INTEGRATION_TIMEOUT_SECONDS),
                },
            )
        )


def _events(engine: sqlalchemy.Engine, conversation_id: str) -> list[AuditRecord]:
    with engine.connect() as connection:
        return search_events(connection, conversation_id=conversation_id)


def _wait_for_event(
    engine: sqlalchemy.Engine, conversation_id: str, event_type: str
) -> list[AuditRecord]:
    """The conversation's events once one of ``event_type`` is stored (the worker is async)."""
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while True:
        events = _events(engine, conversation_id)
        if any(event.event_type == event_type for event in events):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {event_type} event for {conversation_id} after {EVENT_WAIT_SECONDS}s: "
                f"{[event.event_type for event in events]}"
            )
        time.sleep(0.1)


def _search(audit_database: AuditDatabase, conversation_id: str) -> list[dict[str, Any]]:
    found = _max_otel(
        "audit", "search", "--database-url", audit_database.app_url,
        "--conversation", conversation_id,
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    return [json.loads(line) for line in found.stdout.splitlines()]


@pytest.fixture(scope="module")
def driven(
    service: SampleService, app_engine: sqlalchemy.Engine, crm: CrmEndpoint
) -> DrivenConversation:
    """One conversation: webhook, triage and CRM call, denied then granted reply, close."""
    crm.respond_with(200)
    response = service.post_webhook(PHONE, "My card was charged twice", CUSTOMER)
    assert response.status_code == 200, response.text
    [conversation_id] = response.json()["conversation_ids"]
    agent = service.wait_until_assigned(conversation_id)["assigned_to"]
    _wait_for_event(app_engine, conversation_id, "integration.request")
    other_team_agent = str(TEAMS["sales"].agents[0])
    with service.client() as client:
        denied = client.post(
            f"/conversations/{conversation_id}/messages",
            json={"text": "Let me help"},
            headers={AGENT_HEADER: other_team_agent},
        )
        assert denied.status_code == 403, denied.text
        granted = client.post(
            f"/conversations/{conversation_id}/messages",
            json={"text": "Refund on its way"},
            headers={AGENT_HEADER: agent},
        )
        assert granted.status_code == 202, granted.text
        closed = client.post(f"/conversations/{conversation_id}/close", json={"agent_id": agent})
        assert closed.json()["status"] == "closed"
    return DrivenConversation(conversation_id, agent, other_team_agent)


def _summary(event: dict[str, Any]) -> tuple[str, str, str | None, str | None, str | None]:
    old, new = event["old_value"] or {}, event["new_value"] or {}
    detail = new.get("state") or new.get("outcome") or new.get("permission")
    return event["event_type"], event["actor_type"], event["actor_id"], old.get("state"), detail


@pytest.mark.integration
def test_search_shows_created_assigned_crm_call_permission_checks_and_closed_in_order(
    audit_database: AuditDatabase, driven: DrivenConversation
) -> None:
    events = _search(audit_database, driven.id)

    assert [_summary(event) for event in events] == [
        ("conversation.state_changed", "customer", None, None, "queued"),
        ("conversation.state_changed", "system", "triage", "queued", "assigned"),
        ("integration.request", "system", "crm", None, "success"),
        ("auth.permission_denied", "user", driven.other_team_agent, None, "conversation.reply"),
        ("auth.permission_granted", "user", driven.agent, None, "conversation.reply"),
        ("conversation.state_changed", "user", driven.agent, "assigned", "closed"),
    ]
    assert all(event["conversation_id"] == driven.id for event in events)
    assigned, crm_call, denied = events[1]["new_value"], events[2]["new_value"], events[3]
    assert assigned["team_id"] == str(TEAMS["billing"].id)
    assert assigned["assigned_to"] == driven.agent
    assert crm_call["operation"] == "notify_assignment"
    assert crm_call["status_code"] == 200
    assert crm_call["duration_ms"] >= 0
    assert denied["new_value"]["granted"] is False
    assert "team sales" in denied["new_value"]["reason"]


@pytest.mark.integration
def test_customer_phone_is_stored_as_the_same_pseudonym_as_in_logs_and_traces(
    audit_database: AuditDatabase, driven: DrivenConversation
) -> None:
    events = _search(audit_database, driven.id)
    expected = PseudonymKey(TEST_PSEUDONYM_KEY.encode(), "k1").pseudonymise("phone", PHONE)

    assert events[0]["new_value"]["customer_phone"] == expected
    stored = json.dumps(events)
    assert PHONE not in stored
    assert PHONE.lstrip("+") not in stored


@pytest.mark.integration
def test_audit_verify_recomputes_the_chain_and_exits_0(
    audit_database: AuditDatabase, driven: DrivenConversation, app_engine: sqlalchemy.Engine
) -> None:
    stored = len(_events(app_engine, driven.id))

    verified = _max_otel("audit", "verify", "--database-url", audit_database.app_url)

    assert verified.returncode == 0, verified.stderr
    assert stored == 6
    assert "audit verify: OK:" in verified.stdout


@pytest.mark.integration
@pytest.mark.parametrize(
    "statement",
    [
        'UPDATE conversation_events SET new_value = \'{"state": "open"}\' '
        "WHERE conversation_id = :conversation_id",
        "DELETE FROM conversation_events WHERE conversation_id = :conversation_id",
    ],
    ids=["update", "delete"],
)
def test_application_role_cannot_change_audit_rows(
    app_engine: sqlalchemy.Engine, driven: DrivenConversation, statement: str
) -> None:
    before = [event.row_hash for event in _events(app_engine, driven.id)]

    with (
        pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied"),
        app_engine.begin() as connection,
    ):
        connection.execute(sqlalchemy.text(statement), {"conversation_id": driven.id})

    assert [event.row_hash for event in _events(app_engine, driven.id)] == before


@pytest.mark.integration
@pytest.mark.parametrize(
    ("status", "delay", "outcome", "status_code"),
    [(503, 0.0, "failure", 503), (200, INTEGRATION_TIMEOUT_SECONDS * 3, "timeout", None)],
    ids=["failure", "timeout"],
)
def test_failed_and_timed_out_crm_calls_are_audited_with_their_outcome(
    service: SampleService,
    app_engine: sqlalchemy.Engine,
    crm: CrmEndpoint,
    status: int,
    delay: float,
    outcome: str,
    status_code: int | None,
) -> None:
    crm.respond_with(status, delay=delay)
    try:
        phone = f"+55119876{uuid.uuid4().int % 10**5:05d}"
        response = service.post_webhook(phone, "Hello, I need a quote")
        [conversation_id] = response.json()["conversation_ids"]
        events = _wait_for_event(app_engine, conversation_id, "integration.request")
    finally:
        crm.respond_with(200)

    [call] = [event for event in events if event.event_type == "integration.request"]
    assert call.new_value["outcome"] == outcome
    assert call.new_value.get("status_code") == status_code
    assert (call.actor_type, call.actor_id) == ("system", "crm")


@pytest.mark.integration
def test_audit_database_failure_never_breaks_a_request(
    tmp_path: Path, redis_server: RedisServer, postgres_server: PostgresServer
) -> None:
    """Fail open: with no audit schema every write fails, is logged, and requests succeed."""
    with (
        postgres_database(postgres_server.url) as no_schema,
        SampleService(
            tmp_path,
            redis_url=redis_server.url,
            instrumented=False,
            worker=False,
            env={
                "MAX_OTEL_AUDIT_DATABASE_URL": no_schema,
                "MAX_OTEL_PSEUDONYM_KEY": TEST_PSEUDONYM_KEY,
            },
        ) as service,
    ):
        response = service.post_webhook("+5511987650099", "hello")
        assert response.status_code == 200, response.text
        [conversation_id] = response.json()["conversation_ids"]
        with service.client() as client:
            closed = client.post(f"/conversations/{conversation_id}/close")
            fetched = client.get(f"/conversations/{conversation_id}")

        assert closed.status_code == 200
        assert fetched.json()["status"] == "closed"
        service.wait_for_output(r"audit\.write_failed", "api")


@pytest.mark.integration
def test_audit_url_without_pseudonym_key_stops_the_service_at_start_up(tmp_path: Path) -> None:
    service = SampleService(
        tmp_path,
        redis_url="redis://127.0.0.1:1/0",
        instrumented=False,
        worker=False,
        env={"MAX_OTEL_AUDIT_DATABASE_URL": "postgresql://max_app@127.0.0.1:1/max_audit"},
    )
    with pytest.raises(ServiceStartError, match="MAX_OTEL_PSEUDONYM_KEY"):
        service.start()


@pytest.mark.unit
def test_without_audit_url_the_service_writes_no_audit_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Off means off: not even a failed write to an unconfigured trail."""
    monkeypatch.delenv(audit_trail.AUDIT_DATABASE_URL, raising=False)
    set_audit_trail(AuditTrail(None, policy=FailurePolicy.FAIL_CLOSED))  # would raise if used
    try:
        assert audit_trail.configure() is False
        audit_trail.conversation_state_changed(
            uuid.uuid4(), actor=Actor.system("test"), old_state=None, new_state="queued"
        )
        audit_trail.integration_called(
            adapter="crm", operation="notify_assignment", outcome="success", duration_ms=1.0
        )
    except AuditWriteError as error:
        pytest.fail(f"an audit write was attempted with the trail off: {error}")
    finally:
        set_audit_trail(None)
