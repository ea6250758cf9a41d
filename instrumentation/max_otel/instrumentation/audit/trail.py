"""The audit API services call: one typed method per audited event (spec, section 9).

::

    from max_otel.instrumentation.audit import Actor, AuditTrail

    audit = AuditTrail.from_environment()   # MAX_OTEL_AUDIT_DATABASE_URL, MAX_OTEL_PSEUDONYM_KEY
    audit.conversation_state_changed("c-42", actor=Actor.user("u-7"),
                                     old_state="open", new_state="assigned")
    audit.permission_checked(actor=Actor.user("u-7"), permission="conversation.transfer",
                             granted=False, conversation_id="c-42")
    audit.ai_tool_invoked("c-42", tool="crm.lookup", outcome="success",
                          arguments={"phone": "+33 6 12 34 56 78"})  # stored pseudonymised
    audit.integration_called(adapter="hubspot", operation="create_contact",
                             outcome="failure", duration_ms=812.0, conversation_id="c-42")
    audit.user_logged_in("u-7", method="sso")
    audit.user_logged_out("u-7", reason="user")

Every method returns the stored row's id, or ``None`` when the write failed.

Failure policy (an explicit choice, see docs/audit.md): by default an audit write that fails
(database down, no schema...) is logged as ``audit.write_failed`` with the traceback, counted in
``audit_write_failures_total{event_type}``, and the request goes on (``FAIL_OPEN``: telemetry
never breaks the application). Compliance may require the opposite: with ``FAIL_CLOSED``
(``MAX_OTEL_AUDIT_REQUIRED=true``), the method raises :class:`AuditWriteError`, so an action
that cannot be audited fails, and with ``connection=`` inside the same transaction, is rolled
back with it.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from typing import Any, Literal

from opentelemetry import metrics
from sqlalchemy import Connection

from max_otel.instrumentation.audit._database import audit_engine, resolve_database_url
from max_otel.instrumentation.audit._environment import (
    _DEFAULT_AUDIT_REQUIRED,
    AUDIT_REQUIRED,
)
from max_otel.instrumentation.audit.errors import AuditWriteError
from max_otel.instrumentation.audit.events import (
    Actor,
    AuditEvent,
    EventType,
    JsonValue,
)
from max_otel.instrumentation.audit.store import AuditStore
from max_otel.instrumentation.fork_gated_redactor import ForkGatedRedactor
from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

logger = logging.getLogger(__name__)

METER_NAME = "max_otel.audit"
"""Instrumentation scope of ``audit_events_total`` and ``audit_write_failures_total``."""

AiToolOutcome = Literal["success", "denied", "error", "confirmation_required"]
IntegrationOutcome = Literal["success", "failure", "timeout"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class FailurePolicy(enum.Enum):
    """What a failed audit write does to the request."""

    FAIL_OPEN = "fail_open"  # log, count, return None: the request goes on
    FAIL_CLOSED = "fail_closed"  # raise AuditWriteError: the request fails

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> FailurePolicy:
        """``MAX_OTEL_AUDIT_REQUIRED`` (true: fail closed), default fail open."""
        raw = (os.environ if env is None else env).get(AUDIT_REQUIRED)
        if raw is None:
            return cls.FAIL_CLOSED if _DEFAULT_AUDIT_REQUIRED else cls.FAIL_OPEN
        value = raw.strip().lower()
        if value in _TRUE:
            return cls.FAIL_CLOSED
        if value in _FALSE:
            return cls.FAIL_OPEN
        raise ValueError(f"{AUDIT_REQUIRED} must be true or false; got {raw!r}")


class AuditTrail:
    """Typed audit helpers over an :class:`AuditStore`, with an explicit failure policy.

    ``store=None`` is a trail that was never configured: every write is a failure (handled by
    ``policy``), so a forgotten set-up is loud in logs or, fail-closed, in requests.
    """

    def __init__(
        self,
        store: AuditStore | None,
        *,
        policy: FailurePolicy = FailurePolicy.FAIL_OPEN,
        meter: metrics.Meter | None = None,
    ) -> None:
        self._store = store
        self.policy = policy
        meter = meter or metrics.get_meter(METER_NAME)
        self._written = meter.create_counter(
            "audit_events_total", unit="{event}", description="Audit events stored, by type"
        )
        self._failed = meter.create_counter(
            "audit_write_failures_total",
            unit="{event}",
            description="Audit events that could not be stored, by type",
        )

    @classmethod
    def from_environment(
        cls,
        database_url: str | None = None,
        *,
        policy: FailurePolicy | None = None,
        redactor: Redactor | None = None,
        env: Mapping[str, str] | None = None,
    ) -> AuditTrail:
        """A trail on ``database_url`` (else ``MAX_OTEL_AUDIT_DATABASE_URL``).

        The redactor defaults to the packaged rules with ``MAX_OTEL_PSEUDONYM_KEY``; a missing
        URL or key raises at once (``ValueError`` / ``ConfigurationError``), at start-up rather
        than on the first audited request. No connection is made here.
        """
        environment = os.environ if env is None else env
        url = resolve_database_url(database_url, environment)
        if redactor is None:
            redactor = ForkGatedRedactor(
                load_rules(None), PseudonymKey.from_environment(environment)
            )
        return cls(
            AuditStore(audit_engine(url), redactor),
            policy=policy or FailurePolicy.from_environment(environment),
        )

    # --- the audited events ------------------------------------------------------------------

    def conversation_state_changed(
        self,
        conversation_id: str,
        *,
        actor: Actor,
        old_state: str | None,
        new_state: str,
        details: Mapping[str, JsonValue] | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """A conversation moved from ``old_state`` to ``new_state`` (created: ``None``)."""
        return self.record(
            AuditEvent(
                EventType.CONVERSATION_STATE_CHANGED,
                actor,
                conversation_id,
                old_value=None if old_state is None else {"state": old_state},
                new_value={"state": new_state, **(details or {})},
            ),
            connection=connection,
        )

    def permission_checked(
        self,
        *,
        actor: Actor,
        permission: str,
        granted: bool,
        resource: str | None = None,
        conversation_id: str | None = None,
        reason: str | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """A permission check and its result (both granted and denied are audited)."""
        details: dict[str, JsonValue] = {"permission": permission, "granted": granted}
        if resource is not None:
            details["resource"] = resource
        if reason is not None:
            details["reason"] = reason
        event_type = EventType.PERMISSION_GRANTED if granted else EventType.PERMISSION_DENIED
        return self.record(
            AuditEvent(event_type, actor, conversation_id, new_value=details),
            connection=connection,
        )

    def ai_tool_invoked(
        self,
        conversation_id: str | None,
        *,
        tool: str,
        outcome: AiToolOutcome,
        arguments: Mapping[str, JsonValue] | None = None,
        result: JsonValue = None,
        actor: Actor | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """The AI assistant called ``tool``; arguments and result are stored redacted."""
        details: dict[str, JsonValue] = {"tool": tool, "outcome": outcome}
        if arguments is not None:
            details["arguments"] = dict(arguments)
        if result is not None:
            details["result"] = result
        return self.record(
            AuditEvent(
                EventType.AI_TOOL_INVOKED, actor or Actor.ai(), conversation_id, new_value=details
            ),
            connection=connection,
        )

    def integration_called(
        self,
        *,
        adapter: str,
        operation: str,
        outcome: IntegrationOutcome,
        duration_ms: float | None = None,
        status_code: int | None = None,
        conversation_id: str | None = None,
        actor: Actor | None = None,
        connection: Connection | None = None,
    ) -> int | None:
        """A call to an external integration (CRM, messaging provider...) and its outcome."""
        details: dict[str, JsonValue] = {
            "adapter": adapter,
            "operation": operation,
            "outcome": outcome,
        }
        if duration_ms is not None:
            details["duration_ms"] = round(duration_ms, 3)
        if status_code is not None:
            details["status_code"] = status_code
        return self.record(
            AuditEvent(
                EventType.INTEGRATION_CALLED,
                actor or Actor.system(adapter),
                conversation_id,
                new_value=details,
            ),
            connection=connection,
        )

    def user_logged_in(
        self, user_id: str, *, method: str, connection: Connection | None = None
    ) -> int | None:
        """A Max user logged in (``method``: password, sso, api_key...)."""
        return self.record(
            AuditEvent(EventType.USER_LOGGED_IN, Actor.user(user_id), new_value={"method": method}),
            connection=connection,
        )

    def user_logged_out(
        self, user_id: str, *, reason: str = "user", connection: Connection | None = None
    ) -> int | None:
        """A Max user logged out (``reason``: user, expired, revoked...)."""
        return self.record(
            AuditEvent(
                EventType.USER_LOGGED_OUT, Actor.user(user_id), new_value={"reason": reason}
            ),
            connection=connection,
        )

    # --- the one write path ------------------------------------------------------------------

    def record(self, event: AuditEvent, *, connection: Connection | None = None) -> int | None:
        """Store ``event``; return its id, or apply the failure policy and return ``None``."""
        attributes: dict[str, Any] = {"event_type": str(event.event_type)}
        try:
            if self._store is None:
                raise AuditWriteError(
                    "no audit trail is configured: call configure_audit_trail() at start-up"
                )
            stored = self._store.append(event, connection=connection)
        except Exception as error:
            self._failed.add(1, attributes)
            if self.policy is FailurePolicy.FAIL_CLOSED:
                raise AuditWriteError(
                    f"audit event {event.event_type} was not stored ({type(error).__name__}); "
                    "the audit trail is required (MAX_OTEL_AUDIT_REQUIRED=true)"
                ) from error
            logger.exception(
                "audit.write_failed",
                extra={
                    "event_type": str(event.event_type),
                    "conversation_id": event.conversation_id,
                },
            )
            return None
        self._written.add(1, attributes)
        return stored.id
