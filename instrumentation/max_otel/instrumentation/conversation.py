"""Bind a conversation id (and team, agent, channel) to the work done inside a block.

The id is put into baggage, so it reaches every span started inside the block, Celery tasks
sent from it (task headers) and outbound HTTP calls (``baggage`` header); the spans already
open around the block (the HTTP server span, a handler span) get the attribute too::

    from max_otel.instrumentation import conversation, current_conversation_id

    with conversation("6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b", channel="whatsapp"):
        triage_conversation.delay(...)        # the task's spans carry conversation_id
        current_conversation_id()             # "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"

Works in sync and async code (contextvars). Telemetry never breaks the application: a value
that fails its check (a non-UUID conversation id...) is not bound, with one warning per key;
the block still runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import baggage, context, trace

from max_otel.instrumentation.baggage_policy import (
    AGENT_ID,
    CHANNEL,
    CONVERSATION_ID,
    TEAM_ID,
    BaggagePolicy,
    normalise_value,
)
from max_otel.instrumentation.open_spans import OpenSpans

logger = logging.getLogger(__name__)

_policy = BaggagePolicy()
_open_spans: OpenSpans | None = None
_warned_keys: set[str] = set()


def configure_binding(policy: BaggagePolicy, open_spans: OpenSpans | None) -> None:
    """Called by the configurator: the active allowlist and the open-span registry."""
    global _policy, _open_spans
    _policy = policy
    _open_spans = open_spans


def current_conversation_id() -> str | None:
    """The conversation id in the current context's baggage, or None."""
    value = baggage.get_baggage(CONVERSATION_ID)
    return value if isinstance(value, str) else None


def annotate_open_spans(attributes: Mapping[str, str]) -> None:
    """Set ``attributes`` on the current span and its open local ancestors (allowlisted
    keys only). Never raises."""
    try:
        recorded = {key: value for key, value in attributes.items() if _policy.allows(key)}
        if not recorded:
            return
        current = trace.get_current_span()
        spans = _open_spans.lineage(current) if _open_spans is not None else [current]
        for span in spans:
            if span.is_recording():
                span.set_attributes(recorded)
    except Exception:
        logger.exception("could not annotate the open spans")


def bind(values: Mapping[str, object]) -> object | None:
    """Attach a context whose baggage holds the valid ``values``; annotate open spans.

    Returns the token to pass to ``opentelemetry.context.detach``, or None when nothing was
    bound (no valid value, or the same values already bound).
    """
    accepted: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        normalised = normalise_value(key, str(value))
        if normalised is None:
            if key not in _warned_keys:
                _warned_keys.add(key)
                logger.warning("max_otel: %s has an invalid value; not bound", key)
            continue
        accepted[key] = normalised
    current = baggage.get_all()
    changed = {key: value for key, value in accepted.items() if current.get(key) != value}
    if not changed:
        if accepted:
            annotate_open_spans(accepted)
        return None
    ctx = context.get_current()
    for key, value in changed.items():
        ctx = baggage.set_baggage(key, value, ctx)
    token = context.attach(ctx)
    annotate_open_spans(accepted)
    return token


@contextmanager
def conversation(
    conversation_id: object,
    *,
    team_id: object = None,
    agent_id: object = None,
    channel: object = None,
) -> Iterator[None]:
    """Bind ``conversation_id`` (a UUID, as ``str`` or ``uuid.UUID``) and the optional team,
    agent and channel for the duration of the block."""
    token = bind(
        {CONVERSATION_ID: conversation_id, TEAM_ID: team_id, AGENT_ID: agent_id, CHANNEL: channel}
    )
    try:
        yield
    finally:
        if token is not None:
            context.detach(token)  # type: ignore[arg-type]
