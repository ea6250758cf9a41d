"""The typed audit API: what each helper stores, PII pseudonymised, and the failure policy."""

from __future__ import annotations

import logging

import pytest
from max_service_launch.local_servers import free_port
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sqlalchemy import create_engine, text

from max_otel.instrumentation import audit
from max_otel.instrumentation.audit import (
    Actor,
    AuditStore,
    AuditTrail,
    AuditWriteError,
    EventType,
    FailurePolicy,
    search_events,
)
from max_otel.processors.redaction import RedactionHits, Redactor
from tests.instrumentation.audit.conftest import AuditDatabase

pytestmark = pytest.mark.integration

PHONE = "+33 6 12 34 56 78"
EMAIL = "jeanne.dupont@example.com"


def _events(audit_db: AuditDatabase, **criteria: str):
    with audit_db.app.connect() as connection:
        return search_events(connection, **criteria)


def test_each_helper_stores_its_spec_event(audit_db: AuditDatabase, trail: AuditTrail):
    user = Actor.user("u-7")
    trail.conversation_state_changed(
        "c-42", actor=user, old_state="open", new_state="assigned", details={"assigned_to": "u-9"}
    )
    trail.permission_checked(
        actor=user, permission="conversation.transfer", granted=True, conversation_id="c-42"
    )
    trail.permission_checked(
        actor=user,
        permission="conversation.delete",
        granted=False,
        conversation_id="c-42",
        reason="role agent",
    )
    trail.ai_tool_invoked("c-42", tool="crm.lookup", outcome="success")
    trail.integration_called(
        adapter="hubspot",
        operation="create_contact",
        outcome="timeout",
        duration_ms=5000.0,
        conversation_id="c-42",
    )
    trail.user_logged_in("u-7", method="sso")
    trail.user_logged_out("u-7", reason="expired")

    timeline = _events(audit_db, conversation_id="c-42")
    assert [(e.event_type, e.actor_type, e.actor_id) for e in timeline] == [
        ("conversation.state_changed", "user", "u-7"),
        ("auth.permission_granted", "user", "u-7"),
        ("auth.permission_denied", "user", "u-7"),
        ("ai.tool_called", "ai", "assistant"),
        ("integration.request", "system", "hubspot"),
    ]
    assert timeline[0].old_value == {"state": "open"}
    assert timeline[0].new_value == {"state": "assigned", "assigned_to": "u-9"}
    assert timeline[2].new_value == {
        "permission": "conversation.delete",
        "granted": False,
        "reason": "role agent",
    }
    assert timeline[4].new_value["outcome"] == "timeout"
    sessions = [e for e in _events(audit_db, actor_id="u-7") if e.conversation_id is None]
    assert [(e.event_type, e.new_value) for e in sessions] == [
        (EventType.USER_LOGGED_IN.value, {"method": "sso"}),
        (EventType.USER_LOGGED_OUT.value, {"reason": "expired"}),
    ]


def test_phones_and_emails_in_values_are_stored_as_the_same_pseudonyms_as_in_logs(
    audit_db: AuditDatabase, trail: AuditTrail, redactor: Redactor
):
    trail.ai_tool_invoked(
        "c-42",
        tool="crm.lookup",
        outcome="success",
        arguments={"customer_phone": PHONE, "query": f"find {EMAIL}"},
    )
    with audit_db.app.connect() as connection:
        stored = connection.execute(
            text("SELECT new_value::text FROM conversation_events")
        ).scalar_one()
    assert "12 34 56 78" not in stored and "612345678" not in stored
    assert "jeanne.dupont" not in stored
    # The same engine and key that redact logs and traces give the same pseudonyms.
    expected = redactor.redact_value(
        "new_value",
        {
            "tool": "crm.lookup",
            "outcome": "success",
            "arguments": {"customer_phone": PHONE, "query": f"find {EMAIL}"},
        },
        RedactionHits(),
    )
    assert _events(audit_db, conversation_id="c-42")[0].new_value == expected


def _unreachable_trail(redactor: Redactor, policy: FailurePolicy, meter_provider=None):
    engine = create_engine(
        f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none",
        connect_args={"connect_timeout": 2},
    )
    meter = meter_provider.get_meter("test") if meter_provider else None
    return AuditTrail(AuditStore(engine, redactor), policy=policy, meter=meter)


def test_by_default_a_failed_write_is_logged_and_counted_and_the_request_goes_on(
    redactor: Redactor, caplog: pytest.LogCaptureFixture
):
    reader = InMemoryMetricReader()
    trail = _unreachable_trail(redactor, FailurePolicy.FAIL_OPEN, MeterProvider([reader]))
    with caplog.at_level(logging.ERROR):
        assert trail.user_logged_in("u-7", method="password") is None
    failures = [r for r in caplog.records if r.getMessage() == "audit.write_failed"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert failures[0].event_type == "auth.login"
    points = [
        point
        for metric in reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
        if metric.name == "audit_write_failures_total"
        for point in metric.data.data_points
    ]
    assert [(p.value, dict(p.attributes)) for p in points] == [(1, {"event_type": "auth.login"})]


def test_a_required_trail_fails_the_request_when_it_cannot_write(redactor: Redactor):
    trail = _unreachable_trail(redactor, FailurePolicy.FAIL_CLOSED)
    with pytest.raises(AuditWriteError, match=r"auth\.login was not stored"):
        trail.user_logged_in("u-7", method="password")


def test_the_failure_policy_comes_from_the_environment():
    assert FailurePolicy.from_environment({}) is FailurePolicy.FAIL_OPEN
    assert FailurePolicy.from_environment({"MAX_OTEL_AUDIT_REQUIRED": "true"}) is (
        FailurePolicy.FAIL_CLOSED
    )
    with pytest.raises(ValueError, match="MAX_OTEL_AUDIT_REQUIRED must be true or false"):
        FailurePolicy.from_environment({"MAX_OTEL_AUDIT_REQUIRED": "maybe"})


def test_an_event_written_in_the_callers_transaction_rolls_back_with_it(
    audit_db: AuditDatabase, trail: AuditTrail
):
    with audit_db.app.connect() as connection:
        transaction = connection.begin()
        trail.conversation_state_changed(
            "c-9",
            actor=Actor.user("u-1"),
            old_state="open",
            new_state="closed",
            connection=connection,
        )
        transaction.rollback()
        with connection.begin():
            trail.conversation_state_changed(
                "c-9",
                actor=Actor.user("u-1"),
                old_state="open",
                new_state="resolved",
                connection=connection,
            )
    assert [e.new_value["state"] for e in _events(audit_db, conversation_id="c-9")] == ["resolved"]


def test_a_failed_audit_write_leaves_the_callers_transaction_usable(
    audit_db: AuditDatabase, redactor: Redactor
):
    trail = AuditTrail(AuditStore(audit_db.app, redactor), policy=FailurePolicy.FAIL_OPEN)
    with audit_db.app.connect() as connection, connection.begin():
        assert trail.user_logged_in("u-1", method="sso", connection=connection) is not None
        # jsonb cannot hold a NUL character: PostgreSQL refuses this insert.
        refused = trail.ai_tool_invoked(
            "c-1", tool="t", outcome="error", result="NUL \x00 byte", connection=connection
        )
        assert refused is None
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    assert len(_events(audit_db, actor_id="u-1")) == 1


def test_a_month_without_partition_gets_one_on_the_first_write(
    audit_db: AuditDatabase, trail: AuditTrail
):
    with audit_db.owner.begin() as connection:
        current = connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'conversation_events'::regclass ORDER BY 1 LIMIT 1"
            )
        ).scalar_one()
        connection.execute(text(f"DROP TABLE {current}"))
    assert trail.user_logged_in("u-7", method="sso") is not None
    assert len(_events(audit_db, actor_id="u-7")) == 1


def test_module_helpers_use_the_configured_trail(
    audit_db: AuditDatabase, trail: AuditTrail, caplog: pytest.LogCaptureFixture
):
    audit.set_audit_trail(None)
    try:
        with caplog.at_level(logging.ERROR):
            assert audit.user_logged_in("u-1", method="sso") is None
        assert "audit.write_failed" in caplog.messages
        audit.set_audit_trail(trail)
        assert audit.user_logged_in("u-1", method="sso") is not None
        assert audit.get_audit_trail() is trail
    finally:
        audit.set_audit_trail(None)
    assert len(_events(audit_db, actor_id="u-1")) == 1
