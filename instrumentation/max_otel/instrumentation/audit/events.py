"""What an audit event is: its type, its actor, its values, and the stored record.

Event types are the spec's audited events, named like its key log events::

    >>> AuditEvent(EventType.USER_LOGGED_IN, Actor.user("u-17")).actor.type.value
    'user'

``old_value`` and ``new_value`` hold JSON-compatible data (a dict, list, string, number...);
they pass through the redaction engine before they are stored (phones and emails become
pseudonyms, secrets are masked), so write what the change was, never worry about PII in it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonValue = Mapping[str, Any] | list[Any] | str | int | float | bool | None
"""What ``old_value`` and ``new_value`` may hold (stored as ``jsonb``)."""


class EventType(enum.StrEnum):
    """The audited events (spec, section 9), as stored in ``event_type``."""

    CONVERSATION_STATE_CHANGED = "conversation.state_changed"
    PERMISSION_GRANTED = "auth.permission_granted"
    PERMISSION_DENIED = "auth.permission_denied"
    AI_TOOL_INVOKED = "ai.tool_called"
    INTEGRATION_CALLED = "integration.request"
    USER_LOGGED_IN = "auth.login"
    USER_LOGGED_OUT = "auth.logout"


class ActorType(enum.StrEnum):
    """Who acted, as stored in ``actor_type``."""

    USER = "user"  # an agent, supervisor or admin of Max
    CUSTOMER = "customer"  # an end customer (actor_id is a pseudonym or internal id)
    AI = "ai"  # the AI assistant acting in a conversation
    SYSTEM = "system"  # a worker, a scheduled job, an integration callback


@dataclass(frozen=True)
class Actor:
    """Who did it: a type and an internal id (never a phone number or an email)."""

    type: ActorType
    id: str | None = None

    @classmethod
    def user(cls, user_id: str) -> Actor:
        return cls(ActorType.USER, user_id)

    @classmethod
    def customer(cls, customer_id: str) -> Actor:
        return cls(ActorType.CUSTOMER, customer_id)

    @classmethod
    def ai(cls, agent_id: str = "assistant") -> Actor:
        return cls(ActorType.AI, agent_id)

    @classmethod
    def system(cls, component: str) -> Actor:
        return cls(ActorType.SYSTEM, component)


@dataclass(frozen=True)
class AuditEvent:
    """One event to append to the trail (``id``, time and hashes are set by the database)."""

    event_type: EventType | str
    actor: Actor
    conversation_id: str | None = None
    old_value: JsonValue = None
    new_value: JsonValue = None

    def __post_init__(self) -> None:
        if not str(self.event_type):
            raise ValueError("event_type must be a non-empty string; got ''")


@dataclass(frozen=True)
class AuditRecord:
    """One stored row of ``conversation_events``, as search and archive return it."""

    id: int
    created_at: datetime
    event_type: str
    actor_type: str
    actor_id: str | None
    conversation_id: str | None
    old_value: Any
    new_value: Any
    prev_hash: str
    row_hash: str

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``created_at`` as ISO 8601)."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "event_type": self.event_type,
            "actor_type": self.actor_type,
            "actor_id": self.actor_id,
            "conversation_id": self.conversation_id,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "prev_hash": self.prev_hash,
            "row_hash": self.row_hash,
        }
