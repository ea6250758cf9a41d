"""The "core-api" FastAPI application.

Endpoints:

- ``POST /webhooks/whatsapp``: signed WhatsApp webhook (401 bad signature, 400 not JSON,
  422 not a WhatsApp payload); stores each text message in the customer's open conversation
  (created if none), triggers triage for queued conversations, pushes ``message.received``.
- ``GET /conversations/{conversation_id}``: the conversation and its messages (404 unknown).
- ``POST /conversations/{conversation_id}/messages``: an agent's reply, sent by the worker
  (202; 409 if the conversation is closed).
- ``POST /conversations/{conversation_id}/close``: close it (idempotent).
- ``GET /conversations/{conversation_id}/slow?seconds=1.2``: the conversation after a
  deliberately slow query (``pg_sleep``), for slow-query logging.
- ``GET /ping``: no database, no Redis; for benchmarks.

Run: ``PYTHONPATH=examples uvicorn max_service.app:app --port 8000``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from sqlalchemy import text
from sqlalchemy.orm import Session, selectinload

from max_service import conversations, db, realtime, webhook
from max_service.logs import configure_logging
from max_service.models import STATUS_CLOSED, STATUS_QUEUED, Conversation
from max_service.schemas import (
    CloseIn,
    ConversationOut,
    ReplyAccepted,
    ReplyIn,
    SlowOut,
    WebhookAccepted,
)
from max_service.settings import Settings
from max_service.tasks import send_message, triage_conversation

logger = logging.getLogger(__name__)
_settings = Settings.from_environment()
configure_logging(_settings.log_level, console=True)

_MAX_SLOW_SECONDS = 5.0


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    db.create_schema()
    yield


app = FastAPI(title="Max core-api", lifespan=_lifespan)

SessionDep = Annotated[Session, Depends(db.get_session)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _conversation_or_404(session: Session, conversation_id: uuid.UUID) -> Conversation:
    conversation = session.get(
        Conversation, conversation_id, options=[selectinload(Conversation.messages)]
    )
    if conversation is None:
        raise HTTPException(status_code=404, detail=f"conversation {conversation_id} not found")
    return conversation


@app.get("/ping")
async def ping() -> dict[str, str]:
    """Liveness for benchmarks: touches nothing."""
    return {"status": "ok"}


@app.post("/webhooks/whatsapp")
def whatsapp_webhook(
    session: SessionDep,
    body: Annotated[bytes, Depends(_raw_body)],
    signature: Annotated[str | None, Header(alias=webhook.SIGNATURE_HEADER)] = None,
) -> WebhookAccepted:
    """Validate, normalise and store inbound WhatsApp messages."""
    try:
        webhook.verify_signature(body, signature, _settings.webhook_secret)
    except webhook.InvalidSignatureError as error:
        logger.warning("auth.permission_denied", extra={"reason": str(error)})
        raise HTTPException(status_code=401, detail=str(error)) from None
    try:
        inbound = webhook.normalise(webhook.parse_json(body))
    except webhook.MalformedPayloadError as error:
        logger.warning("webhook.malformed", extra={"reason": str(error)})
        raise HTTPException(status_code=error.status_code, detail=str(error)) from None
    conversation_ids: list[uuid.UUID] = []
    message_ids: list[uuid.UUID] = []
    for item in inbound:
        conversation, _created = conversations.find_or_create(
            session, item.phone, item.customer_name
        )
        message = conversations.save_inbound(session, conversation, item)
        if conversation.status == STATUS_QUEUED:
            triage_conversation.delay(str(conversation.id))
        realtime.push(
            conversation.id,
            "message.received",
            {"message_id": str(message.id), "text": item.text},
        )
        if conversation.id not in conversation_ids:
            conversation_ids.append(conversation.id)
        message_ids.append(message.id)
    return WebhookAccepted(conversation_ids=conversation_ids, message_ids=message_ids)


@app.get("/conversations/{conversation_id}")
def get_conversation(conversation_id: uuid.UUID, session: SessionDep) -> ConversationOut:
    """The conversation with its messages."""
    return ConversationOut.model_validate(_conversation_or_404(session, conversation_id))


@app.post("/conversations/{conversation_id}/messages", status_code=202)
def reply(conversation_id: uuid.UUID, payload: ReplyIn, session: SessionDep) -> ReplyAccepted:
    """Queue an agent's reply for delivery by the worker."""
    conversation = _conversation_or_404(session, conversation_id)
    if conversation.status == STATUS_CLOSED:
        raise HTTPException(status_code=409, detail=f"conversation {conversation_id} is closed")
    message = conversations.save_outbound(session, conversation, payload.text, payload.agent_id)
    send_message.delay(str(message.id))
    return ReplyAccepted(message_id=message.id, status=message.status)


@app.post("/conversations/{conversation_id}/close")
def close_conversation(
    conversation_id: uuid.UUID, session: SessionDep, payload: CloseIn | None = None
) -> ConversationOut:
    """Close the conversation and tell the agents' inbox."""
    conversation = _conversation_or_404(session, conversation_id)
    conversations.close(session, conversation, payload.agent_id if payload else None)
    realtime.push(conversation.id, "conversation.closed", {})
    return ConversationOut.model_validate(conversation)


@app.get("/conversations/{conversation_id}/slow")
def slow_conversation(
    conversation_id: uuid.UUID,
    session: SessionDep,
    seconds: Annotated[float, Query(gt=0, le=_MAX_SLOW_SECONDS)] = 1.2,
) -> SlowOut:
    """Run a deliberately slow query (``pg_sleep``), then look the conversation up."""
    session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    _conversation_or_404(session, conversation_id)
    return SlowOut(conversation_id=conversation_id, slept_seconds=seconds)
