"""The wire-level walker behind the fast path: pre-filter, then decode only what is suspicious.

A walker is a tree of handlers, one per protobuf field that can hold text
(:mod:`max_otel.processors.otlp.fast` builds the trees for the three OTLP requests)::

    span = Message({5: TEXT, 9: ATTRIBUTE}, count_field=9, counted=True)
    request = container({1: container({2: container({2: span})})})
    new_bytes_or_none = request(Walk(engine), data, walk.hits)

Contract of every handler: given a field's payload, return the new payload, ``DROPPED``, or
``None`` when nothing changed; raise ``OtlpDecodeError`` on malformed bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from google.protobuf.message import DecodeError
from max_otel.processors.otlp._wire import Field, encode_field, encode_varint, scan_fields
from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import (
    DROPPED,
    REDACTION_COUNT_KEY,
    RedactionEngine,
    counted_key_value,
    redact_body,
    redact_key_value,
    redact_text_field,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# A serialized KeyValue whose key is "redaction.count" starts with these bytes.
_COUNT_PREFIX = encode_field(1, REDACTION_COUNT_KEY.encode())


class Walk:
    """One request's walk: the engine, its pre-filter, the batch's hits and item counts."""

    def __init__(self, engine: RedactionEngine) -> None:
        self.engine = engine
        self.suspicious: Callable[[bytes], bool] = engine.might_contain_pii
        many = getattr(engine, "might_contain_pii_many", None)
        self.suspicious_many: Callable[[Sequence[bytes]], Iterable[int]] | None = (
            many if callable(many) else None
        )
        self.hits: Counter[str] = Counter()
        self.items = 0
        self.changed_items = 0

    def which(self, chunks: list[bytes], together_suspicious: bool) -> Iterable[int]:
        """Indices of the ``chunks`` that might contain PII, in increasing order.

        One engine call when the engine offers ``might_contain_pii_many``; otherwise one
        call per chunk, or, when the chunks together are known to be suspicious (the fields
        of a suspicious span), a bisection that skips clean halves whole.
        """
        if self.suspicious_many is not None:
            return sorted(set(self.suspicious_many(chunks)))
        if together_suspicious and len(chunks) > _BISECT_LEAF:
            return self._bisect(chunks)
        suspicious = self.suspicious
        return [index for index, chunk in enumerate(chunks) if suspicious(chunk)]

    def _bisect(self, chunks: list[bytes]) -> list[int]:
        found: list[int] = []
        suspicious = self.suspicious
        stack = [(0, len(chunks), True)]
        while stack:
            low, high, known = stack.pop()
            if high - low > _BISECT_LEAF:
                if known or suspicious(b"".join(chunks[low:high])):
                    middle = (low + high) // 2
                    stack.append((middle, high, False))
                    stack.append((low, middle, False))
                continue
            if known and high - low == 1:
                found.append(low)
                continue
            found.extend(index for index in range(low, high) if suspicious(chunks[index]))
        return found


def _decode(message_type: type[KeyValue] | type[AnyValue], payload: bytes) -> object:
    try:
        return message_type.FromString(payload)
    except (DecodeError, RecursionError) as error:
        raise OtlpDecodeError(f"invalid {message_type.__name__}: {error}") from error


class Handler:
    """Redacts one field's payload: returns the new payload, DROPPED, or None (unchanged).

    ``always``: called for every occurrence (containers); otherwise only when the pre-filter
    calls the payload suspicious. ``counted``: the field is one of the request's items.
    """

    always = False
    counted = False

    def chunk(self, payload: bytes) -> bytes:
        """The bytes the pre-filter looks at to decide whether to call this handler."""
        return payload

    def __call__(self, walk: Walk, payload: bytes, hits: Counter[str]) -> object:
        raise NotImplementedError


class _Attribute(Handler):
    def __call__(self, walk: Walk, payload: bytes, hits: Counter[str]) -> object:
        pair = _decode(KeyValue, payload)
        result = redact_key_value(walk.engine, pair, hits)  # type: ignore[arg-type]
        if isinstance(result, KeyValue):
            return result.SerializeToString()
        return result


class _Text(Handler):
    def __call__(self, walk: Walk, payload: bytes, hits: Counter[str]) -> object:
        try:
            text = payload.decode()
        except UnicodeDecodeError as error:
            raise OtlpDecodeError(f"string field is not valid UTF-8: {error}") from error
        redacted = redact_text_field(walk.engine, text, hits)
        return None if redacted is None else redacted.encode()


class _Body(Handler):
    def __call__(self, walk: Walk, payload: bytes, hits: Counter[str]) -> object:
        body = _decode(AnyValue, payload)
        result = redact_body(walk.engine, body, hits)  # type: ignore[arg-type]
        if isinstance(result, AnyValue):
            return result.SerializeToString()
        return result


ATTRIBUTE = _Attribute()
TEXT = _Text()
BODY = _Body()

# Below this many chunks known to hold PII together, each is checked on its own.
_BISECT_LEAF = 2


class Message(Handler):
    """A nested message: redact the fields that have a handler, copy the others.

    ``prefilter=False`` makes it a container, walked whatever its bytes (the request and its
    resource/scope levels). A message with ``prefilter`` is walked only when its bytes
    (without its leading binary fields, see :meth:`chunk`) are suspicious; then only its
    suspicious fields are redacted. ``count_field``: the message is an item (span, log
    record, data point, resource, scope, metric): a change adds ``redaction.count`` to the
    attributes in that field. ``counted``: the message is one of the request's items (span,
    log record, metric).
    """

    def __init__(
        self,
        fields: dict[int, Handler],
        *,
        prefilter: bool = True,
        count_field: int | None = None,
        counted: bool = False,
    ) -> None:
        self.fields = fields
        self.always = not prefilter
        self.count_field = count_field
        self.counted = counted

    def chunk(self, payload: bytes) -> bytes:
        """``payload`` without its leading fields that have no handler.

        Those are the binary ids and timestamps a span, event or link starts with: random
        bytes that often look suspicious to the pre-filter and never hold anything this
        walker redacts. Only single-byte tags and lengths are skipped; anything else ends
        the skip (the rest is then checked as it is, which is always safe).
        """
        handlers = self.fields
        size = len(payload)
        position = 0
        while position < size:
            tag = payload[position]
            if tag >= 0x80 or (tag >> 3) in handlers:
                break
            wire_type = tag & 7
            if wire_type == 2 and position + 1 < size and payload[position + 1] < 0x80:
                skipped = position + 2 + payload[position + 1]
            elif wire_type == 1:
                skipped = position + 9
            elif wire_type == 5:
                skipped = position + 5
            elif wire_type == 0 and position + 1 < size and payload[position + 1] < 0x80:
                skipped = position + 2
            else:
                break
            if skipped > size:
                break
            position = skipped
        return payload[position:] if position else payload

    def __call__(self, walk: Walk, data: bytes, hits: Counter[str]) -> object:
        own: Counter[str] = Counter() if self.count_field is not None else hits
        fields = scan_fields(data)
        changes: dict[int, object] = {}
        candidates: list[int] = []
        handlers = self.fields
        for index, (number, _, payload, end) in enumerate(fields):
            handler = handlers.get(number)
            if handler is None or payload < 0:
                continue
            if handler.counted:
                walk.items += 1
            if handler.always:
                result = handler(walk, data[payload:end], own)
                if result is not None:
                    changes[index] = result
            else:
                candidates.append(index)
        if candidates:
            payloads = [data[fields[index][2] : fields[index][3]] for index in candidates]
            chunks = [
                handlers[fields[index][0]].chunk(payload)
                for index, payload in zip(candidates, payloads, strict=True)
            ]
            for position in walk.which(chunks, together_suspicious=not self.always):
                index = candidates[position]
                number = fields[index][0]
                result = handlers[number](walk, payloads[position], own)
                if result is not None:
                    changes[index] = result
        extra = b""
        if self.count_field is not None and own:
            walk.changed_items += 1
            walk.hits.update(own)
            extra = self._count(data, fields, changes, own)
        if not changes and not extra:
            return None
        return _rebuild(data, fields, changes, extra, self.count_field)

    def _count(
        self,
        data: bytes,
        fields: list[Field],
        changes: dict[int, object],
        own: Counter[str],
    ) -> bytes:
        """Update an existing ``redaction.count`` in ``changes`` or return a new one."""
        if _COUNT_PREFIX in data or any(
            isinstance(change, bytes) and change.startswith(_COUNT_PREFIX)
            for change in changes.values()
        ):
            for index, (number, _, payload, end) in enumerate(fields):
                if number != self.count_field or payload < 0:
                    continue
                current = changes.get(index)
                if current is DROPPED:
                    continue
                raw = data[payload:end] if current is None else current
                assert isinstance(raw, bytes)
                if raw.startswith(_COUNT_PREFIX):
                    existing = _decode(KeyValue, raw)
                    counted = counted_key_value(existing, own)  # type: ignore[arg-type]
                    changes[index] = counted.SerializeToString()
                    return b""
        # A new count: KeyValue{key: "redaction.count", value: {int_value: n}}, encoded by hand
        # exactly as protobuf encodes it (the common case, on every changed item).
        count = max(sum(own.values()), 1)
        pair = _COUNT_PREFIX + encode_field(2, b"\x18" + encode_varint(count))
        return encode_field(self.count_field or 0, pair)


def _insertion_index(fields: list[Field], field: int) -> int:
    """Where a new ``field`` goes to keep canonical (field-number) order: after the last
    field numbered ``field`` or lower (searched from the end: few fields follow attributes)."""
    index = len(fields)
    while index > 0 and fields[index - 1][0] > field:
        index -= 1
    return index


def _rebuild(
    data: bytes,
    fields: list[Field],
    changes: dict[int, object],
    extra: bytes,
    extra_field: int | None,
) -> bytes:
    """Splice ``changes`` into ``data``; insert ``extra`` where field order keeps it canonical."""
    edits: list[tuple[int, int, bytes]] = []  # (offset, end of replaced bytes, new bytes)
    for index in changes:
        number, start, _, end = fields[index]
        change = changes[index]
        if change is DROPPED:
            edits.append((start, end, b""))
        else:
            assert isinstance(change, bytes)
            edits.append((start, end, encode_field(number, change)))
    if extra and extra_field is not None:
        at = _insertion_index(fields, extra_field)
        offset = fields[at][1] if at < len(fields) else len(data)
        edits.append((offset, offset, extra))
    edits.sort(key=lambda edit: (edit[0], edit[1]))
    pieces: list[bytes] = []
    copied = 0
    for start, end, new in edits:
        pieces.append(data[copied:start])
        pieces.append(new)
        copied = end
    pieces.append(data[copied:])
    return b"".join(pieces)


def container(fields: dict[int, Handler]) -> Message:
    """A message walked whatever its bytes (a request and its resource/scope levels)."""
    return Message(fields, prefilter=False)
