"""Redis: the "WebSocket push" channel agents' browsers listen on, and a small cache.

The WebSocket gateway (not part of this sample) subscribes to ``max:ws:conversation:<id>``;
the API and the worker :func:`push` events there with a Redis PUBLISH::

    push(conversation_id, "message.received", {"message_id": ..., "text": ...})
    cache_assignment(conversation_id, {"team": "sales", "assigned_to": ...})
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis

from max_service.settings import Settings

_ASSIGNMENT_TTL_SECONDS = 3600

client = redis.Redis.from_url(
    Settings.from_environment().redis_url, socket_timeout=5, socket_connect_timeout=5
)


def channel_for(conversation_id: uuid.UUID | str) -> str:
    """The pub/sub channel of one conversation."""
    return f"max:ws:conversation:{conversation_id}"


def push(conversation_id: uuid.UUID | str, event: str, data: dict[str, Any]) -> int:
    """Publish ``event`` to the conversation's channel; return how many listeners got it."""
    message = json.dumps({"event": event, "conversation_id": str(conversation_id), **data})
    receivers: int = client.publish(channel_for(conversation_id), message)
    return receivers


def cache_assignment(conversation_id: uuid.UUID | str, assignment: dict[str, str]) -> None:
    """Cache who handles a conversation, for the routing of the agents' inbox."""
    client.setex(
        f"max:conversation:{conversation_id}:assignment",
        _ASSIGNMENT_TTL_SECONDS,
        json.dumps(assignment),
    )


def next_index(counter: str, modulo: int) -> int:
    """Advance the shared round-robin ``counter`` and return its position in ``range(modulo)``."""
    value: int = client.incr(f"max:round-robin:{counter}")
    return (value - 1) % modulo
