"""Request and response bodies of the API (pydantic models)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class MessageOut(BaseModel):
    """A message as the agents' inbox shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    direction: str
    body: str
    status: str
    sender_id: uuid.UUID | None
    created_at: datetime


class ConversationOut(BaseModel):
    """A conversation with its messages, oldest first."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    channel: str
    status: str
    customer_phone: str
    customer_name: str | None
    team: str | None
    team_id: uuid.UUID | None
    assigned_to: uuid.UUID | None
    created_at: datetime
    closed_at: datetime | None
    messages: list[MessageOut]


class WebhookAccepted(BaseModel):
    """What the webhook stored: the conversations touched and the messages saved."""

    conversation_ids: list[uuid.UUID]
    message_ids: list[uuid.UUID]


class ReplyIn(BaseModel):
    """An agent's reply; ``agent_id`` defaults to the conversation's assignee."""

    text: str = Field(min_length=1, max_length=4096)
    agent_id: uuid.UUID | None = None


class ReplyAccepted(BaseModel):
    """The reply was stored and handed to the worker for delivery."""

    message_id: uuid.UUID
    status: str


class CloseIn(BaseModel):
    """Who closes the conversation (optional)."""

    agent_id: uuid.UUID | None = None


class SlowOut(BaseModel):
    """Result of the deliberately slow query."""

    conversation_id: uuid.UUID
    slept_seconds: float
