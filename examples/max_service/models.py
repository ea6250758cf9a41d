"""Database tables: conversations with a customer, and the messages in them.

A conversation is ``queued`` until the triage task assigns it to a team and an agent
(``assigned``), and ``closed`` when an agent closes it; an inbound message from a customer
with no open conversation starts a new one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

STATUS_QUEUED = "queued"
STATUS_ASSIGNED = "assigned"
STATUS_CLOSED = "closed"

UNASSIGNED_TEAM = "unassigned"
"""The team label of a conversation no team has taken yet (metrics use it for ``None``)."""

DIRECTION_INBOUND = "inbound"
DIRECTION_OUTBOUND = "outbound"


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the sample service's tables."""


class Conversation(Base):
    """A conversation between one customer (by phone number) and the support teams."""

    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(32), default="whatsapp")
    customer_phone: Mapped[str] = mapped_column(String(32), index=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_QUEUED, index=True)
    team: Mapped[str | None] = mapped_column(String(32), default=None)
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.created_at"
    )


class Message(Base):
    """One message in a conversation: inbound from the customer or outbound from an agent."""

    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # received (inbound), queued then sent (outbound)
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    sender_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
