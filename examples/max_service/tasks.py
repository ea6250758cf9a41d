"""The worker's tasks: triage a conversation, and send an agent's reply.

``triage_conversation`` loads the conversation, routes it to a team and an agent (a database
update, audited as a state change), caches the assignment in Redis, tells the CRM (when
``MAX_INTEGRATION_URL`` is set; the call is audited) and pushes ``conversation.assigned`` to the
agents' channel. An already assigned or closed conversation is left as it is, even when an
agent closes it while the task runs.
``send_message`` "sends" a queued outbound message (marks it ``sent``) and pushes
``message.sent``. Both record the metrics catalogue once their change is committed (time in
queue; outbound messages per channel and agent: :mod:`max_service.service_metrics`).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from max_otel.instrumentation.audit import Actor
from max_service import audit_trail, integration, realtime, service_metrics
from max_service.db import session_scope
from max_service.models import (
    DIRECTION_INBOUND,
    STATUS_ASSIGNED,
    STATUS_QUEUED,
    Conversation,
    Message,
)
from max_service.triage import route
from max_service.worker import celery_app

logger = logging.getLogger(__name__)


@celery_app.task(name="max_service.triage_conversation")
def triage_conversation(conversation_id: str) -> dict[str, Any]:
    """Assign a queued conversation; return its status, team, agent and integration outcome."""
    started = time.perf_counter()
    with session_scope() as session:
        conversation = session.get(Conversation, uuid.UUID(conversation_id))
        if conversation is None:
            logger.warning("conversation.not_found", extra={"conversation_id": conversation_id})
            return {"status": "missing"}
        if conversation.status != STATUS_QUEUED:
            return {"status": conversation.status, "team": conversation.team}
        last_text = session.scalars(
            select(Message.body)
            .where(Message.conversation_id == conversation.id)
            .where(Message.direction == DIRECTION_INBOUND)
            .order_by(Message.created_at.desc())
            .limit(1)
        ).first()
        team = route(last_text or "")
        agent = team.agents[realtime.next_index(team.name, len(team.agents))]
        # Compare-and-set: an agent may close the conversation (or another task assign it)
        # between the read above and this update.
        statement = (
            update(Conversation)
            .where(Conversation.id == conversation.id)
            .where(Conversation.status == STATUS_QUEUED)
            .values(status=STATUS_ASSIGNED, team=team.name, team_id=team.id, assigned_to=agent)
            .execution_options(synchronize_session=False)
        )
        claimed = cast("CursorResult[Any]", session.execute(statement))
        if claimed.rowcount == 0:
            return {"status": "unchanged"}
        phone, name = conversation.customer_phone, conversation.customer_name
        created_at = conversation.created_at
    service_metrics.conversation_assigned(team.name, created_at)
    assignment = {"team": team.name, "team_id": str(team.id), "assigned_to": str(agent)}
    audit_trail.conversation_state_changed(
        conversation_id,
        actor=Actor.system("triage"),
        old_state=STATUS_QUEUED,
        new_state=STATUS_ASSIGNED,
        details=assignment,
    )
    realtime.cache_assignment(conversation_id, assignment)
    logger.info(
        "conversation.assigned",
        extra={
            "conversation_id": conversation_id,
            "assigned_to": str(agent),
            "team_id": str(team.id),
            "phone": phone,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    outcome = integration.notify_assignment(
        {
            "event": "conversation.assigned",
            "conversation_id": conversation_id,
            "customer_phone": phone,
            "customer_name": name,
            **assignment,
        }
    )
    realtime.push(conversation_id, "conversation.assigned", assignment)
    return {"status": STATUS_ASSIGNED, "integration": outcome, **assignment}


@celery_app.task(name="max_service.send_message")
def send_message(message_id: str) -> dict[str, str]:
    """Deliver a queued outbound message to the customer; return its new status."""
    with session_scope() as session:
        message = session.get(Message, uuid.UUID(message_id))
        if message is None:
            logger.warning("message.failed", extra={"message_id": message_id, "reason": "missing"})
            return {"status": "missing"}
        message.status = "sent"
        conversation = message.conversation
        conversation_id, phone, body = (
            str(conversation.id),
            conversation.customer_phone,
            message.body,
        )
        channel, agent_id = conversation.channel, message.sender_id
    service_metrics.message_sent(channel, agent_id)
    logger.info(
        "message.sent",
        extra={
            "conversation_id": conversation_id,
            "message_id": message_id,
            "phone": phone,
            "message_content": body,
        },
    )
    realtime.push(conversation_id, "message.sent", {"message_id": message_id})
    return {"status": "sent"}
