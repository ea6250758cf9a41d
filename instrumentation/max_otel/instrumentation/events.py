"""The spec's catalogue of key events, and ``emit`` to log one with its fields.

An event is a log record whose message is the event name and whose ``extra`` fields are its
details; it reaches stdout as JSON and the collector over OTLP (as an OpenTelemetry event,
``event_name`` set), redacted on both paths, with ``conversation_id``, ``trace_id`` and
``span_id`` of the current context::

    from max_otel.instrumentation import Events, emit

    emit(Events.CONVERSATION_ASSIGNED, conversation_id=cid, assigned_to=agent, team_id=team)
    emit(Events.INTEGRATION_TIMEOUT, adapter="crm", duration_ms=2000)   # ERROR by default
    emit(Events.MESSAGE_SENT, level=logging.DEBUG, message_id=mid)

Each event has a default level (failures and timeouts ``ERROR``, denials ``WARNING``, the
rest ``INFO``); ``level=`` overrides it. Events are logged on the ``max.events`` logger
unless ``logger=`` names another. A field named like a ``LogRecord`` attribute (``name``,
``message``, ``args``...) is logged with a trailing underscore (``name_``). ``emit`` never
raises.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from max_otel.instrumentation.json_logs import RESERVED_RECORD_ATTRIBUTES

EVENT_LOGGER_NAME = "max.events"
EVENT_NAME_ATTRIBUTE = "otel.event.name"
"""Record attribute the OpenTelemetry logging handler turns into the record's event name."""

_internal = logging.getLogger(__name__)


class Events(StrEnum):
    """The spec's key events (values are the names that appear in the ``event`` field)."""

    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_TRANSFERRED = "conversation.transferred"
    CONVERSATION_CLOSED = "conversation.closed"
    CONVERSATION_REOPENED = "conversation.reopened"
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    MESSAGE_DELIVERED = "message.delivered"
    MESSAGE_FAILED = "message.failed"
    INTEGRATION_REQUEST = "integration.request"
    INTEGRATION_SUCCESS = "integration.success"
    INTEGRATION_FAILURE = "integration.failure"
    INTEGRATION_TIMEOUT = "integration.timeout"
    AI_TOOL_CALLED = "ai.tool_called"
    AI_TOOL_SUCCESS = "ai.tool_success"
    AI_TOOL_DENIED = "ai.tool_denied"
    AI_CONFIRMATION_REQUIRED = "ai.confirmation_required"
    AUTH_LOGIN = "auth.login"
    AUTH_LOGOUT = "auth.logout"
    AUTH_PERMISSION_DENIED = "auth.permission_denied"


DEFAULT_LEVELS: dict[str, int] = {
    Events.MESSAGE_FAILED: logging.ERROR,
    Events.INTEGRATION_FAILURE: logging.ERROR,
    Events.INTEGRATION_TIMEOUT: logging.ERROR,
    Events.AI_TOOL_DENIED: logging.WARNING,
    Events.AUTH_PERMISSION_DENIED: logging.WARNING,
}
"""Level of each event that is not ``INFO``."""


def default_level(event: str) -> int:
    """The level ``emit`` uses for ``event`` when none is given."""
    return DEFAULT_LEVELS.get(str(event), logging.INFO)


def event_extra(event: str, fields: dict[str, object]) -> dict[str, object]:
    """The ``extra`` mapping of an event record (reserved field names get a ``_`` suffix)."""
    extra: dict[str, object] = {
        (f"{key}_" if key in RESERVED_RECORD_ATTRIBUTES else key): value
        for key, value in fields.items()
    }
    extra[EVENT_NAME_ATTRIBUTE] = str(event)
    return extra


def emit(
    event: Events | str,
    /,
    *,
    level: int | None = None,
    logger: logging.Logger | None = None,
    **fields: object,
) -> None:
    """Log ``event`` with ``fields``. Never raises."""
    try:
        target = logger or logging.getLogger(EVENT_LOGGER_NAME)
        resolved = default_level(str(event)) if level is None else level
        if target.isEnabledFor(resolved):
            target.log(resolved, str(event), extra=event_extra(str(event), fields), stacklevel=2)
    except Exception:
        _internal.exception("could not emit event %s", event)
