"""The audit trail: append-only, hash-chained, searchable compliance records.

Services record the spec's audited events through one typed API (``docs/audit.md``)::

    from max_otel.instrumentation import audit

    audit.configure_audit_trail()      # MAX_OTEL_AUDIT_DATABASE_URL, MAX_OTEL_PSEUDONYM_KEY
    audit.conversation_state_changed("c-42", actor=audit.Actor.user("u-7"),
                                     old_state="open", new_state="assigned")

and operators run ``max-otel audit install | partitions | verify | search | archive``.
"""

from __future__ import annotations

from max_otel.instrumentation.audit._schema import (
    Partition,
    create_partitions,
    install_schema,
    list_partitions,
)
from max_otel.instrumentation.audit.archive import (
    ArchivedPartition,
    archive_partitions,
    verify_archive,
)
from max_otel.instrumentation.audit.errors import (
    ArchiveError,
    AuditError,
    AuditWriteError,
    SchemaError,
)
from max_otel.instrumentation.audit.events import (
    Actor,
    ActorType,
    AuditEvent,
    AuditRecord,
    EventType,
)
from max_otel.instrumentation.audit.hooks import (
    ai_tool_invoked,
    configure_audit_trail,
    conversation_state_changed,
    get_audit_trail,
    integration_called,
    permission_checked,
    record,
    set_audit_trail,
    user_logged_in,
    user_logged_out,
)
from max_otel.instrumentation.audit.search import search_events
from max_otel.instrumentation.audit.store import AuditStore, StoredEvent
from max_otel.instrumentation.audit.trail import AuditTrail, FailurePolicy
from max_otel.instrumentation.audit.verify import ChainProblem, ChainReport, verify_chain

__all__ = [
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
