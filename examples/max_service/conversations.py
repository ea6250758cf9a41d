"""Conversation operations of the API: lookup-or-create, save messages, close.

Each function takes the request's session and commits its own change, so a failure later in
the request never loses a saved message. State changes (created, closed) are audited once
committed (:mod:`max_service.audit_trail`), and counted in the metrics catalogue
(:mod:`max_service.service_metrics`: new and closed conversations, inbound messages, first
response and resolution times)::

    conversation, created = find_or_create(session, "+5511999990000", "Ana")
    message = save_inbound(session, conversation, inbound)
    close(session, conversation, closed_by=agent_id)    # True if it was open
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from max_otel.instrumentation.audit import Actor, ActorType
from max_service import audit_trail, service_metrics
from max_service.models import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    STATUS_CLOSED,
    Conversation,
    Message,
    utc_now,
)
from max_service.webhook import InboundMessage

logger = logging.getLogger(__name__)


def find_or_create(
    session: Session, phone: str, customer_name: str | None
) -> tuple[Conversation, bool]:
    """The customer's open conversation, or a new one; the flag says if it was created."""
    conversation = session.scalars(
        select(Conversation)
        .where(Conversation.customer_phone == phone)
        .where(Conversation.status != STATUS_CLOSED)
        .order_by(Conversation.created_at.desc())
        .limit(1)
    ).first()
    if conversation is not None:
        return conversation, False
    conversation = Conversation(
        id=uuid.uuid4(), channel="whatsapp", customer_phone=phone, customer_name=customer_name
    )
    session.add(conversation)
    session.commit()
    logger.info(
        "conversation.created",
        extra={
            "conversation_id": str(conversation.id),
            "channel": "whatsapp",
            "phone": phone,
            "customer_name": customer_name,
        },
    )
    service_metrics.conversation_created(conversation)
    # The customer's message opened it; the sample has no customer ids, so the actor has
    # none (the phone goes in the values, where it is pseudonymised, never in actor_id).
    audit_trail.conversation_state_changed(
        conversation.id,
        actor=Actor(ActorType.CUSTOMER),
        old_state=None,
        new_state=conversation.status,
        details={"channel": "whatsapp", "customer_phone": phone},
    )
    return conversation, True


def save_inbound(session: Session, conversation: Conversation, inbound: InboundMessage) -> Message:
    """Store a customer's message in ``conversation``."""
    message = Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        direction=DIRECTION_INBOUND,
        body=inbound.text,
        status="received",
        external_id=inbound.external_id,
    )
    session.add(message)
    session.commit()
    service_metrics.message_received(conversation)
    logger.info(
        "message.received",
        extra={
            "conversation_id": str(conversation.id),
            "message_id": str(message.id),
            "channel": "whatsapp",
            "phone": inbound.phone,
            "message_content": inbound.text,
        },
    )
    return message


def save_outbound(
    session: Session, conversation: Conversation, text: str, agent_id: uuid.UUID | None
) -> Message:
    """Store an agent's reply as ``queued``; the worker sends it.

    The conversation's first reply records its first response time.
    """
    first_reply = not any(m.direction == DIRECTION_OUTBOUND for m in conversation.messages)
    message = Message(
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        direction=DIRECTION_OUTBOUND,
        body=text,
        status="queued",
        sender_id=agent_id or conversation.assigned_to,
        created_at=utc_now(),
    )
    session.add(message)
    session.commit()
    if first_reply:
        service_metrics.first_response(conversation, message.sender_id, message.created_at)
    return message


def close(session: Session, conversation: Conversation, closed_by: uuid.UUID | None) -> bool:
    """Close ``conversation`` (idempotent); return whether it was open.

    ``closed_by`` is the agent who closed it (None: the API on nobody's behalf). The status is
    read again under a row lock, so the audited old state is the one really replaced even when
    the worker assigned the conversation meanwhile.
    """
    session.refresh(conversation, attribute_names=["status"], with_for_update=True)
    if conversation.status == STATUS_CLOSED:
        return False
    old_state = conversation.status
    conversation.status = STATUS_CLOSED
    conversation.closed_at = utc_now()
    session.commit()
    logger.info(
        "conversation.closed",
        extra={
            "conversation_id": str(conversation.id),
            "user_id": str(closed_by) if closed_by else None,
            "team_id": str(conversation.team_id) if conversation.team_id else None,
        },
    )
    service_metrics.conversation_closed(conversation)
    audit_trail.conversation_state_changed(
        conversation.id,
        actor=Actor.user(str(closed_by)) if closed_by else Actor.system("core-api"),
        old_state=old_state,
        new_state=STATUS_CLOSED,
    )
    return True
