"""The baggage propagator of Max services: W3C baggage, validated, plus ``X-Conversation-ID``.

``ConversationBaggagePropagator`` replaces OpenTelemetry's ``W3CBaggagePropagator`` in the
global propagator (``install_conversation_propagator``). On extract it:

1. applies the W3C limits to the ``baggage`` header (8192 bytes, 180 list-members, 4096 bytes
   per member) and drops malformed members, each with a *debug* log that names the key only
   (OpenTelemetry's own propagator logs a warning per bad request, with the whole header:
   a log flood and a leak of whatever the header carries);
2. drops allowlisted entries whose value fails the ``BaggagePolicy`` check (a non-UUID
   ``conversation_id``...), so an invalid id never travels further;
3. reads ``X-Conversation-ID`` and, when it holds a valid UUID, sets baggage
   ``conversation_id`` (the header wins over a ``conversation_id`` in ``baggage``).

Inject is W3C baggage, unchanged: ``conversation_id`` reaches Celery task headers and
outbound HTTP calls as ``baggage: conversation_id=...``::

    install_conversation_propagator(BaggagePolicy())
    ctx = propagate.extract({"x-conversation-id": "6f1c0d8e-..."})
    baggage.get_baggage("conversation_id", ctx)   # "6f1c0d8e-..."
"""

from __future__ import annotations

import logging

from opentelemetry import baggage
from opentelemetry.baggage import _is_valid_pair
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagate import get_global_textmap, set_global_textmap
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.util.re import _DELIMITER_PATTERN

from max_otel.instrumentation.baggage_policy import CONVERSATION_ID, BaggagePolicy

logger = logging.getLogger(__name__)

CONVERSATION_HEADER = "x-conversation-id"
"""Request header carrying a conversation id (case-insensitive)."""

MAX_HEADER_BYTES = 8192
MAX_MEMBERS = 180
MAX_MEMBER_BYTES = 4096


def _first(values: object) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        return values
    try:
        first = next(iter(values))  # type: ignore[call-overload]
    except (StopIteration, TypeError):
        return None
    return first if isinstance(first, str) else None


def sanitise_baggage_header(header: str) -> str:
    """``header`` with every member outside the W3C limits or format removed (debug log)."""
    if len(header.encode("utf-8", "surrogatepass")) > MAX_HEADER_BYTES:
        logger.debug(
            "baggage header of %d bytes exceeds %d; ignored", len(header), MAX_HEADER_BYTES
        )
        return ""
    kept: list[str] = []
    for member in _DELIMITER_PATTERN.split(header):
        if not member:
            continue
        key = member.split("=", 1)[0].strip(" \t")[:64]
        if len(kept) >= MAX_MEMBERS:
            logger.debug("baggage has more than %d members; the rest are ignored", MAX_MEMBERS)
            break
        if not member.isascii() or len(member) > MAX_MEMBER_BYTES:
            logger.debug("baggage member %r is too long or not ASCII; ignored", key)
            continue
        name, separator, value = member.partition("=")
        if not separator or not _is_valid_pair(name.strip(" \t"), value.strip(" \t")):
            logger.debug("baggage member %r is malformed; ignored", key)
            continue
        kept.append(member)
    return ",".join(kept)


class ConversationBaggagePropagator(W3CBaggagePropagator):
    """W3C baggage with limits enforced quietly, allowlisted values checked, and the
    ``X-Conversation-ID`` header. ``extract`` never raises for any input."""

    def __init__(self, policy: BaggagePolicy | None = None) -> None:
        self._policy = policy or BaggagePolicy()

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        if context is None:
            context = get_current()
        try:
            return self._extract(carrier, context, getter)
        except Exception:
            logger.debug("baggage extraction failed; request continues without it", exc_info=True)
            return context

    def _extract(
        self,
        carrier: textmap.CarrierT,
        context: Context,
        getter: textmap.Getter[textmap.CarrierT],
    ) -> Context:
        header = _first(getter.get(carrier, self._BAGGAGE_HEADER_NAME))
        if header:
            sanitised = sanitise_baggage_header(header)
            if sanitised:
                context = super().extract(
                    {self._BAGGAGE_HEADER_NAME: sanitised}, context, textmap.default_getter
                )
        for key, value in baggage.get_all(context).items():
            if self._policy.allows(key) and self._policy.normalise(key, value) is None:
                logger.debug("baggage %r has an invalid value; dropped", key)
                context = baggage.remove_baggage(key, context)
        conversation_id = _first(getter.get(carrier, CONVERSATION_HEADER))
        if conversation_id is not None:
            normalised = self._policy.normalise(CONVERSATION_ID, conversation_id)
            if normalised is None:
                logger.debug("%s is not a UUID; ignored", CONVERSATION_HEADER)
            else:
                context = baggage.set_baggage(CONVERSATION_ID, normalised, context)
        return context


def install_conversation_propagator(policy: BaggagePolicy) -> bool:
    """Replace each ``W3CBaggagePropagator`` of the global propagator by ours.

    Returns False (and warns once) when ``OTEL_PROPAGATORS`` has no ``baggage``: then
    ``conversation_id`` cannot travel between processes.
    """
    current = get_global_textmap()
    # CompositePropagator keeps its members private; the SDK version is pinned exactly.
    members = list(getattr(current, "_propagators", [current]))
    replaced = [
        ConversationBaggagePropagator(policy)
        if isinstance(member, W3CBaggagePropagator)
        and not isinstance(member, ConversationBaggagePropagator)
        else member
        for member in members
    ]
    if not any(isinstance(member, ConversationBaggagePropagator) for member in replaced):
        logger.warning(
            "max_otel: OTEL_PROPAGATORS has no 'baggage': conversation_id will not travel "
            "between processes. Fix: set OTEL_PROPAGATORS=tracecontext,baggage"
        )
        return False
    set_global_textmap(CompositePropagator(replaced))
    return True
