"""The module-level audit helpers: configuration errors surface at start-up, never in a request."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from max_service_launch.local_servers import free_port

from max_otel.instrumentation import audit
from max_otel.instrumentation.audit import AuditWriteError, FailurePolicy

pytestmark = pytest.mark.unit

BAD_VALUE_ERROR = "MAX_OTEL_AUDIT_REQUIRED must be true or false; got 'maybe'"


@pytest.fixture(autouse=True)
def unconfigured_trail() -> Iterator[None]:
    """Every test starts and ends with no process-wide trail."""
    audit.set_audit_trail(None)
    yield
    audit.set_audit_trail(None)


def test_a_bad_required_value_is_logged_once_and_helpers_go_on_failing_open(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MAX_OTEL_AUDIT_REQUIRED", "maybe")
    with caplog.at_level(logging.ERROR):
        assert audit.user_logged_in("u-7", method="password") is None
        assert audit.user_logged_out("u-7") is None
        assert (
            audit.conversation_state_changed(
                "c-1", actor=audit.Actor.user("u-7"), old_state=None, new_state="queued"
            )
            is None
        )
    invalid = [m for m in caplog.messages if m.startswith("audit.configuration_invalid")]
    assert len(invalid) == 1
    assert BAD_VALUE_ERROR in invalid[0] and "fail_open" in invalid[0]
    assert caplog.messages.count("audit.write_failed") == 3
    assert audit.get_audit_trail().policy is FailurePolicy.FAIL_OPEN


def test_a_valid_required_value_still_fails_closed_without_a_trail(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MAX_OTEL_AUDIT_REQUIRED", "true")
    with pytest.raises(AuditWriteError, match="the audit trail is required"):
        audit.user_logged_in("u-7", method="password")
    assert not [m for m in caplog.messages if m.startswith("audit.configuration_invalid")]


def test_configure_audit_trail_rejects_a_bad_required_value_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_OTEL_AUDIT_REQUIRED", "maybe")
    monkeypatch.setenv("MAX_OTEL_PSEUDONYM_KEY", "audit-tests-pseudonym-key-0123456789abcdef")
    before = audit.get_audit_trail()
    with pytest.raises(ValueError, match=BAD_VALUE_ERROR):
        audit.configure_audit_trail(f"postgresql://max_app@127.0.0.1:{free_port()}/max_audit")
    assert audit.get_audit_trail() is before
    # An explicit policy does not read the variable at all.
    trail = audit.configure_audit_trail(
        f"postgresql://max_app@127.0.0.1:{free_port()}/max_audit", policy=FailurePolicy.FAIL_OPEN
    )
    assert audit.get_audit_trail() is trail
