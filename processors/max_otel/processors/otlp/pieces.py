"""The smallest redactable pieces of OTLP data, shared by the fast path and the reference.

Both walkers hand every piece to these functions, so they agree by construction on what a
piece becomes; they differ only in which pieces they skip (the fast path skips those whose
bytes the engine's pre-filter calls clean) and in how they put the message back together.

- an attribute (``KeyValue``): :func:`redact_key_value`, the engine's ``redact_value`` under
  the attribute's key (:func:`redact_attribute_value`, also used on its own by the fast path's
  decoder for string attributes); the result is a new ``KeyValue``, :data:`DROPPED`, or
  ``None`` when the value is unchanged;
- a free-text field (span name, event name, status message, log event name):
  :func:`redact_text_field`;
- a log body (``AnyValue`` at any depth): :func:`redact_body`, ``redact_value`` under
  :data:`LOG_BODY_KEY` (empty: value detectors only, key rules for keys inside it);
- the ``redaction.count`` attribute an item gets when anything in it changed:
  :func:`counted_key_value` (an existing integer count is added to, so a second processor in
  the chain keeps the total).

A piece counts as changed when its value differs; redaction hits reported for an unchanged
value are ignored, which keeps the walk idempotent.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from max_otel.processors.otlp.anyvalue import fill_any_value, to_python

REDACTION_COUNT_KEY = "redaction.count"
"""Attribute added to each changed span, log record, data point, resource or scope."""

LOG_BODY_KEY = ""
"""Key under which a log record's body is given to the engine's ``redact_value``.

Empty on purpose: no key rule matches it, so a body is scrubbed by the value detectors (a
body is the log message, to be kept readable), while the keys inside a structured body get
the key rules as attributes do."""

DROPPED = object()
"""Returned by :func:`redact_key_value` and :func:`redact_body` when the piece is removed."""

UNCHANGED = object()
"""Returned by :func:`redact_attribute_value` when the value stays as it is."""


class RedactionEngine(Protocol):
    """What the walkers need from ``max_otel.processors.redaction.Redactor``.

    Optional: ``might_contain_pii_many(chunks) -> Iterable[int]``, the indices of the chunks
    for which ``might_contain_pii`` could be true, found in one scan; the fast path uses it
    when the engine has it (one engine call per batch instead of one per span).
    """

    @property
    def DROP(self) -> object: ...

    def redact_text(self, text: str, hits: Counter[str]) -> str: ...

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object: ...

    def might_contain_pii(self, data: bytes) -> bool: ...


def redact_attribute_value(
    engine: RedactionEngine, key: str, value: object, hits: Counter[str]
) -> object:
    """The redacted ``value`` of attribute ``key``: the new value, :data:`DROPPED`, or
    :data:`UNCHANGED`. Hits count only when the value changed (or was dropped)."""
    before = dict(hits) if hits else None
    redacted = engine.redact_value(key, value, hits)
    if redacted is engine.DROP:
        return _settle(hits, before, "drop", DROPPED)
    if redacted == value and type(redacted) is type(value):
        return _settle(hits, before, None, UNCHANGED)
    if before is None and hits:  # the common case, inline
        return redacted
    return _settle(hits, before, "changed", redacted)


def _settle(
    hits: Counter[str], before: dict[str, int] | None, placeholder: str | None, result: object
) -> object:
    """Keep what the engine just added to ``hits`` for a change (``placeholder``, when it
    added nothing), forget it when nothing changed (``placeholder`` ``None``); return
    ``result``. The engine writes into the caller's counter directly: a snapshot (``before``,
    ``None`` for an empty counter) is cheaper than a counter per piece."""
    added = bool(hits) if before is None else dict.__ne__(hits, before)
    if placeholder is None:
        if added:
            hits.clear()
            dict.update(hits, before or {})
    elif not added:
        hits[placeholder] += 1
    return result


def redact_key_value(engine: RedactionEngine, pair: KeyValue, hits: Counter[str]) -> object:
    """Return a redacted copy of ``pair``, :data:`DROPPED`, or ``None`` if nothing changed."""
    redacted = redact_attribute_value(engine, pair.key, to_python(pair.value), hits)
    if redacted is DROPPED:
        return DROPPED
    if redacted is UNCHANGED:
        return None
    result = KeyValue(key=pair.key)
    fill_any_value(result.value, redacted)
    return result


def redact_text_field(engine: RedactionEngine, text: str, hits: Counter[str]) -> str | None:
    """Return the redacted ``text``, or ``None`` if nothing changed."""
    before = dict(hits) if hits else None
    redacted = engine.redact_text(text, hits)
    if redacted == text:
        _settle(hits, before, None, None)
        return None
    _settle(hits, before, "changed", None)
    return redacted


def redact_body(engine: RedactionEngine, body: AnyValue, hits: Counter[str]) -> object:
    """Return a redacted copy of the log ``body``, :data:`DROPPED`, or ``None``."""
    value = to_python(body)
    before = dict(hits) if hits else None
    redacted = engine.redact_value(LOG_BODY_KEY, value, hits)
    if redacted is engine.DROP:
        return _settle(hits, before, "drop", DROPPED)
    if redacted == value and type(redacted) is type(value):
        return _settle(hits, before, None, None)
    _settle(hits, before, "changed", None)
    result = AnyValue()
    fill_any_value(result, redacted)
    return result


_INT64_MAX = 2**63 - 1


def counted_key_value(existing: KeyValue | None, hits: Counter[str]) -> KeyValue:
    """The ``redaction.count`` attribute of an item with ``hits``, added to ``existing``
    (an int64: a sum past its largest value stays at that value)."""
    count = max(sum(hits.values()), 1)
    if existing is not None and existing.value.WhichOneof("value") == "int_value":
        count += existing.value.int_value
    result = KeyValue(key=REDACTION_COUNT_KEY)
    result.value.int_value = min(count, _INT64_MAX)
    return result
