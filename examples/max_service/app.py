"""The "core-api" FastAPI application.

Endpoints:

- ``POST /webhooks/whatsapp``: signed WhatsApp webhook (401 bad signature, 400 not JSON,
  422 not a WhatsApp payload); stores each text message in the customer's open conversation
  (created if none), triggers triage for queued conversations, pushes ``message.received``.
- ``GET /conversations/{conversation_id}``: the conversation and its messages (404 unknown).
- ``POST /conversations/{conversation_id}/messages``: an agent's reply, sent by the worker
  (202; 409 if the conversation is closed). When the caller names the agent (``X-Agent-ID``
  header or ``agent_id`` in the body), the agent must belong to the conversation's team
  (403 otherwise); the check is audited, granted or denied.
- ``POST /conversations/{conversation_id}/close``: close it (idempotent); ``X-Agent-ID`` or
  ``agent_id`` names who closed it.
- ``GET /conversations/{conversation_id}/slow?seconds=1.2``: the conversation after a
  deliberately slow query (``pg_sleep``), for slow-query logging.
- ``GET /ping``: no database, no Redis; for benchmarks.
- ``GET /health`` (liveness, always 200) and ``GET /health/ready`` (readiness: 200 when the
  database, Redis and the Celery broker answer, else 503 naming the failing checks), from
  max-otel's health router (:mod:`max_service.readiness`).

Run: ``PYTHONPATH=examples uvicorn max_service.app:app --port 8000``. With
``MAX_OTEL_AUDIT_DATABASE_URL`` set, state changes and permission checks are also written to
the audit trail (:mod:`max_service.audit_trail`). The process records max-otel's metrics
catalogue (:mod:`max_service.service_metrics`), ``dependency_up`` from the readiness checks,
its CPU and memory, and, with ``MAX_OTEL_DB_GAUGES=1``, the gauges read from the database
(:mod:`max_service.gauges`).
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

from max_otel.instrumentation import conversation as bind_conversation
from max_otel.instrumentation.health import health_router
from max_otel.instrumentation.metrics import observe_dependencies, observe_process
from max_service import audit_trail, conversations, db, gauges, permissions, realtime, webhook
from max_service.logs import configure_logging
from max_service.models import STATUS_CLOSED, STATUS_QUEUED, Conversation
from max_service.readiness import build_readiness
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
from max_service.worker import celery_app

logger = logging.getLogger(__name__)
_settings = Settings.from_environment()
configure_logging(_settings.log_level, console=True)
audit_trail.configure()

_MAX_SLOW_SECONDS = 5.0


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    db.create_schema()
    yield
    readiness.close()


app = FastAPI(title="Max core-api", lifespan=_lifespan)

# Metrics and health, wired as docs/metrics.md ("Wiring a service") says.
readiness = build_readiness(db.engine, _settings.redis_url, celery_app)
app.include_router(health_router(readiness))
observe_dependencies(readiness.results_for_metrics)
observe_process()
gauges.observe_gauges(db.engine, realtime.client, _settings.celery_queue)

SessionDep = Annotated[Session, Depends(db.get_session)]

AGENT_HEADER = "X-Agent-ID"
AgentHeader = Annotated[uuid.UUID | None, Header(alias=AGENT_HEADER)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _acting_agent(header: uuid.UUID | None, body: uuid.UUID | None) -> uuid.UUID | None:
    """The agent named by the ``X-Agent-ID`` header or the body (400 if they disagree)."""
    if header is not None and body is not None and header != body:
        raise HTTPException(
            status_code=400, detail=f"{AGENT_HEADER} and agent_id name different agents"
        )
    return header if header is not None else body


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
        # The webhook names no conversation: bind it as soon as it is known, so the rest of
        # the request, the triage task and the realtime push carry its id (the distro gives
        # it to the spans that ended before, the lookup and the INSERT, when the request ends).
        with bind_conversation(conversation.id):
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
def reply(
    conversation_id: uuid.UUID,
    payload: ReplyIn,
    session: SessionDep,
    agent_header: AgentHeader = None,
) -> ReplyAccepted:
    """Queue an agent's reply for delivery by the worker.

    A named agent must belong to the conversation's team; with no agent named, the reply is
    sent as the conversation's assignee.
    """
    conversation = _conversation_or_404(session, conversation_id)
    agent_id = _acting_agent(agent_header, payload.agent_id)
    if agent_id is not None:
        decision = permissions.check_reply(conversation, agent_id)
        if not decision.granted:
            raise HTTPException(status_code=403, detail=decision.reason)
    if conversation.status == STATUS_CLOSED:
        raise HTTPException(status_code=409, detail=f"conversation {conversation_id} is closed")
    message = conversations.save_outbound(session, conversation, payload.text, agent_id)
    send_message.delay(str(message.id))
    return ReplyAccepted(message_id=message.id, status=message.status)


@app.post("/conversations/{conversation_id}/close")
def close_conversation(
    conversation_id: uuid.UUID,
    session: SessionDep,
    payload: CloseIn | None = None,
    agent_header: AgentHeader = None,
) -> ConversationOut:
    """Close the conversation and tell the agents' inbox."""
    conversation = _conversation_or_404(session, conversation_id)
    closed_by = _acting_agent(agent_header, payload.agent_id if payload else None)
    conversations.close(session, conversation, closed_by)
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
