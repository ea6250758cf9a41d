"""The sample service's compliance records, kept with max-otel's audit trail.

The spec (section 9) asks for an immutable record of every conversation state change,
permission check, AI tool invocation, integration call, login and logout. The service records
the ones it has, where they happen:

- conversation state changes: created (webhook), assigned (triage task), closed (API);
- integration calls: the CRM call of the triage task (success, failure, timeout);
- permission checks: an agent replying to a conversation (granted or denied).

It is on when ``MAX_OTEL_AUDIT_DATABASE_URL`` is set (the audit database, PostgreSQL, as the
application role; ``MAX_OTEL_PSEUDONYM_KEY`` is then required too), and off otherwise: every
function below returns at once and the service runs exactly as without it::

    configure()                                     # at start-up; True when on
    conversation_state_changed(conversation.id, actor=Actor.user(str(agent_id)),
                               old_state="assigned", new_state="closed")

Failure policy: fail open, chosen explicitly (``FailurePolicy.FAIL_OPEN``, whatever
``MAX_OTEL_AUDIT_REQUIRED`` says): an event that cannot be stored is logged as
``audit.write_failed`` and counted, and the request goes on. A misconfiguration (the URL set
without a pseudonym key) fails at start-up instead. The audit database is separate from the
service's, so each event is written in its own transaction, after the change it records was
committed: a rolled-back change is never audited.

PII: values go through the redaction engine before they are stored, so the customer's phone
number is written as the same ``phone:k1:...`` pseudonym the logs and traces carry.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

from max_otel.instrumentation import audit
from max_otel.instrumentation.audit import Actor, FailurePolicy
from max_otel.instrumentation.audit.trail import IntegrationOutcome

AUDIT_DATABASE_URL = "MAX_OTEL_AUDIT_DATABASE_URL"

_enabled = False
_configured_in: int | None = None  # the process id the trail was built in


def configure() -> bool:
    """Turn the trail on if ``MAX_OTEL_AUDIT_DATABASE_URL`` is set; return whether it is on.

    Raises ``ValueError`` (``ConfigurationError``) when the URL is set but the pseudonym key
    is missing or too short, so a misconfigured service fails at start-up. Makes no
    connection. Called again in the same process it does nothing; in a forked child (Celery's
    pool) it builds a fresh trail, so no pooled connection is shared with the parent.
    """
    global _enabled, _configured_in
    url = os.environ.get(AUDIT_DATABASE_URL, "")
    if not url:
        _enabled, _configured_in = False, None
        return False
    if _configured_in != os.getpid():
        audit.configure_audit_trail(url, policy=FailurePolicy.FAIL_OPEN)
        _enabled, _configured_in = True, os.getpid()
    return True


def enabled() -> bool:
    """Whether :func:`configure` turned the trail on."""
    return _enabled


def conversation_state_changed(
    conversation_id: uuid.UUID | str,
    *,
    actor: Actor,
    old_state: str | None,
    new_state: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record a state change (``old_state`` None: the conversation was created)."""
    if _enabled:
        audit.conversation_state_changed(
            str(conversation_id),
            actor=actor,
            old_state=old_state,
            new_state=new_state,
            details=details,
        )


def permission_checked(
    conversation_id: uuid.UUID | str,
    *,
    agent_id: uuid.UUID,
    permission: str,
    granted: bool,
    reason: str,
) -> None:
    """Record a permission check of ``agent_id`` on a conversation, granted or denied."""
    if _enabled:
        audit.permission_checked(
            actor=Actor.user(str(agent_id)),
            permission=permission,
            granted=granted,
            resource=f"conversation:{conversation_id}",
            conversation_id=str(conversation_id),
            reason=reason,
        )


def integration_called(
    *,
    adapter: str,
    operation: str,
    outcome: IntegrationOutcome,
    duration_ms: float,
    status_code: int | None = None,
    conversation_id: str | None = None,
) -> None:
    """Record a call to an external integration and its outcome."""
    if _enabled:
        audit.integration_called(
            adapter=adapter,
            operation=operation,
            outcome=outcome,
            duration_ms=duration_ms,
            status_code=status_code,
            conversation_id=conversation_id,
        )
