"""The fast path's leaves: one serialized attribute, text field or log body, redacted.

Each leaf takes the piece's payload bytes and returns its new payload, ``DROPPED``, or
``None`` when nothing changed, through the same functions the reference walker uses
(:mod:`max_otel.processors.otlp.pieces`), so both agree on what a piece becomes::

    new_payload = ATTRIBUTE.redact(engine, keyvalue_bytes, hits)

The compiled walk hands all the suspicious leaves of a request over at once
(:func:`redact_leaves`), so a request crosses into Python once.
The common attribute, a ``KeyValue`` holding a string and encoded as protobuf encodes it,
is read and written without building protobuf objects; the result is the same bytes.
Malformed payloads raise :class:`OtlpDecodeError`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from max_otel.processors.otlp._shadow import Leaf
from max_otel.processors.otlp._wire import encode_field, read_varint
from max_otel.processors.otlp.anyvalue import fill_any_value
from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import (
    DROPPED,
    UNCHANGED,
    RedactionEngine,
    redact_attribute_value,
    redact_body,
    redact_key_value,
    redact_text_field,
)


def _decode(message_type: type[KeyValue] | type[AnyValue], payload: bytes) -> object:
    try:
        return message_type.FromString(payload)
    except (DecodeError, RecursionError) as error:
        raise OtlpDecodeError(f"invalid {message_type.__name__}: {error}") from error


def _string_pair(payload: bytes) -> tuple[str, str, int] | None:
    """(key, value, offset of the value field) of ``payload`` if it is a canonical
    ``KeyValue`` holding a string (``0a <key> 12 <0a <string>>``, the key present), else
    ``None`` (decode it in full)."""
    size = len(payload)
    if size < 6 or payload[0] != 0x0A:
        return None
    value_tag = 2 + payload[1]
    if payload[1] < 0x80 and value_tag + 4 <= size and payload[value_tag + 1] < 0x80:
        # One-byte lengths, the common case, read inline (a text under 126 bytes).
        key_start, text_start = 2, value_tag + 4
        if (
            payload[value_tag] != 0x12
            or payload[value_tag + 2] != 0x0A
            or value_tag + 2 + payload[value_tag + 1] != size
            or text_start + payload[value_tag + 3] != size
        ):
            return None
    else:
        key_size, key_start = read_varint(payload, 1)
        value_tag = key_start + key_size
        if value_tag + 3 > size or payload[value_tag] != 0x12:
            return None
        value_size, value_start = read_varint(payload, value_tag + 1)
        if value_start + value_size != size or payload[value_start] != 0x0A:
            return None
        text_size, text_start = read_varint(payload, value_start + 1)
        if text_start + text_size != size:
            return None
    try:
        return payload[key_start:value_tag].decode(), payload[text_start:].decode(), value_tag
    except UnicodeDecodeError:
        return None  # the full decode reports it


# The bytes before a string of n < 126 bytes in a KeyValue's value field: 12 <n+2> 0a <n>.
_SHORT_VALUE = [bytes((0x12, size + 2, 0x0A, size)) for size in range(0x7E)]


class _Attribute(Leaf):
    def redact(self, engine: RedactionEngine, payload: bytes, hits: Counter[str]) -> object:
        pair = _string_pair(payload)
        if pair is None:
            return self._slow(engine, payload, hits)
        key, value, value_field = pair
        redacted = redact_attribute_value(engine, key, value, hits)
        if redacted is UNCHANGED or redacted is DROPPED:
            return None if redacted is UNCHANGED else DROPPED
        if not isinstance(redacted, str) or not key:
            return encode_pair(key, redacted)
        try:
            encoded = redacted.encode()
        except UnicodeEncodeError:
            return encode_pair(key, redacted)
        # As protobuf writes KeyValue{key, value: AnyValue{string_value}}: the key field
        # as it came, then the new value.
        size = len(encoded)
        if size < 0x7E:  # one-byte lengths
            return payload[:value_field] + _SHORT_VALUE[size] + encoded
        return payload[:value_field] + encode_field(2, encode_field(1, encoded))

    @staticmethod
    def _slow(engine: RedactionEngine, payload: bytes, hits: Counter[str]) -> object:
        result = redact_key_value(engine, _decode(KeyValue, payload), hits)  # type: ignore[arg-type]
        return result.SerializeToString() if isinstance(result, KeyValue) else result


def encode_pair(key: str, value: object) -> bytes:
    """A serialized ``KeyValue`` of ``key`` and any ``value`` the engine can return."""
    pair = KeyValue(key=key)
    fill_any_value(pair.value, value)
    return pair.SerializeToString()


class _Text(Leaf):
    def redact(self, engine: RedactionEngine, payload: bytes, hits: Counter[str]) -> object:
        try:
            text = payload.decode()
        except UnicodeDecodeError as error:
            raise OtlpDecodeError(f"string field is not valid UTF-8: {error}") from error
        redacted = redact_text_field(engine, text, hits)
        return None if redacted is None else redacted.encode()


class _Body(Leaf):
    def redact(self, engine: RedactionEngine, payload: bytes, hits: Counter[str]) -> object:
        result = redact_body(engine, _decode(AnyValue, payload), hits)  # type: ignore[arg-type]
        return result.SerializeToString() if isinstance(result, AnyValue) else result


ATTRIBUTE = _Attribute()
TEXT = _Text()
BODY = _Body()


_new_counter = functools.partial(Counter.__new__, Counter)
"""An empty ``Counter`` without running ``Counter.__init__`` (Python code): one per leaf."""


def redact_leaves(
    engine: RedactionEngine, leaves: Sequence[tuple[Leaf | None, object, object]]
) -> list[tuple[object, Counter[str]]]:
    """(result, hits) for each of ``leaves``, each with new, empty hits: for a canonical
    string attribute ``(None, key, value)`` the engine's ``redact_value(key, value, hits)``
    (the caller settles it as :func:`redact_attribute_value` does), for any other leaf
    ``(leaf, payload, None)`` what ``leaf.redact(engine, payload, hits)`` returns."""
    redact_value = engine.redact_value
    new_counter = _new_counter
    results: list[tuple[object, Counter[str]]] = []
    append = results.append
    for leaf, first, second in leaves:
        hits = new_counter()
        if leaf is None:
            append((redact_value(first, second, hits), hits))  # type: ignore[arg-type]
        else:
            append((leaf.redact(engine, first, hits), hits))  # type: ignore[arg-type]
    return results
