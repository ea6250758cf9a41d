"""The audit package exports exactly its documented API."""

from __future__ import annotations

import pytest

from max_otel.instrumentation import audit

pytestmark = pytest.mark.unit

DOCUMENTED = [
    "Actor",
    "ActorType",
    "ArchiveError",
    "ArchivedPartition",
    "AuditError",
    "AuditEvent",
    "AuditRecord",
    "AuditStore",
    "AuditTrail",
    "AuditWriteError",
    "ChainProblem",
    "ChainReport",
    "EventType",
    "FailurePolicy",
    "Partition",
    "SchemaError",
    "StoredEvent",
    "ai_tool_invoked",
    "archive_partitions",
    "configure_audit_trail",
    "conversation_state_changed",
    "create_partitions",
    "get_audit_trail",
    "install_schema",
    "integration_called",
    "list_partitions",
    "permission_checked",
    "record",
    "search_events",
    "set_audit_trail",
    "user_logged_in",
    "user_logged_out",
    "verify_archive",
    "verify_chain",
]


def test_all_is_the_documented_api_sorted():
    assert audit.__all__ == sorted(audit.__all__)
    assert audit.__all__ == sorted(DOCUMENTED)
    assert all(hasattr(audit, name) for name in audit.__all__)


def test_event_types_are_the_spec_events():
    assert {event.value for event in audit.EventType} == {
        "conversation.state_changed",
        "auth.permission_granted",
        "auth.permission_denied",
        "ai.tool_called",
        "integration.request",
        "auth.login",
        "auth.logout",
    }
