"""The fast path's walk: one pre-filter call for a whole level of pieces, then only the
suspicious pieces are parsed or redacted.

::

    new_bytes = Walk(engine).run(request_shape, data)   # data itself when nothing changed

Level by level (:mod:`max_otel.processors.otlp.fast` gives the shapes):

1. upb parses the request with its shadow type: the containers are messages, every span
   (log record, metric, resource, scope) stays bytes;
2. the engine's pre-filter sees every piece of the level in one call
   (``might_contain_pii_many``; one ``might_contain_pii`` call per piece for an engine
   without it); a suspicious item is parsed with its shadow type, and its leaves
   (attributes, names, bodies) and nested items make the next level;
3. a suspicious leaf is redacted (:mod:`max_otel.processors.otlp._leaves`);
4. at the end, each changed item gets its ``redaction.count`` and is serialized back into
   its parent, deepest first; the request is serialized once.

So a batch costs one pre-filter scan of its spans' text plus one of the suspicious spans'
pieces, whatever their number, and Python touches only suspicious spans.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from max_otel.processors.otlp._shadow import Leaf, Shape
from max_otel.processors.otlp._wire import encode_field, encode_varint
from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import (
    DROPPED,
    REDACTION_COUNT_KEY,
    RedactionEngine,
    counted_key_value,
)

# A serialized KeyValue whose key is "redaction.count" starts with these bytes.
_COUNT_PREFIX = encode_field(1, REDACTION_COUNT_KEY.encode())

# A group of at least _SAMPLE_FROM items is sampled first: when _MOSTLY of its first _SAMPLE
# items are suspicious, all are parsed without asking the pre-filter about the rest.
_SAMPLE_FROM = 64
_SAMPLE = 16
_MOSTLY = 12

# (message, field name, index in the repeated field, new payload or DROPPED)
_Change = tuple[Any, str, int, object]


class _Node:
    """A message parsed from bytes (the request, or a suspicious item): its edits, where
    its new bytes go (``slot``: parent node, message, field, index) and, for an item (a span,
    log record, metric, data point, resource or scope: its shape has a ``count_field``),
    the hits that decide its ``redaction.count``."""

    __slots__ = ("changes", "count_field", "hits", "message", "original", "slot")

    def __init__(
        self,
        message: Any,
        original: bytes,
        slot: tuple[_Node, Any, str, int] | None,
        count_field: str | None,
    ) -> None:
        self.message = message
        self.original = original
        self.slot = slot
        self.count_field = count_field
        self.changes: list[_Change] = []
        self.hits: Counter[str] | None = None  # made when a first leaf changes


# The payloads of one walked (repeated, in the shadow type) field of one message, pre-filtered
# together: (node holding the message, node of the item they belong to, message, field name,
# kind, payloads). A plain tuple: there is one per field of every suspicious item.
_Group = tuple[_Node, "_Node | None", Any, str, "Leaf | Shape", list[bytes]]


class Walk:
    """One request's walk: the engine, the batch's hits and item counts."""

    def __init__(self, engine: RedactionEngine) -> None:
        self.engine = engine
        many = getattr(engine, "might_contain_pii_many", None)
        self._many: Callable[[Sequence[bytes]], Iterable[int]] | None = (
            many if callable(many) else None
        )
        self.hits: Counter[str] = Counter()
        self.items = 0
        self.changed_items = 0
        self._nodes: list[_Node] = []
        self._changed: list[Counter[str]] = []  # the hits of each changed item

    def run(self, shape: Shape, data: bytes) -> bytes:
        """The redacted ``data`` (``data`` itself when nothing changed)."""
        root = _Node(shape.parse(data), data, None, None)
        self._nodes.append(root)
        groups: list[_Group] = []
        self._collect(root, root.message, shape, None, groups)
        while groups:
            groups = self._level(groups)
        result = self._rebuild(data)
        total = self.hits
        for hits in self._changed:
            for rule, count in hits.items():
                total[rule] += count
        return result

    def _collect(
        self, node: _Node, message: Any, shape: Shape, item: _Node | None, out: list[_Group]
    ) -> None:
        """Add the walked fields of ``message`` (of ``shape``) to ``out``; walk its nested
        shapes that are not pre-filtered."""
        original = node.original
        for name, kind, repeated, tag in shape.walked:
            if tag is not None and tag not in original:
                continue
            if repeated:
                values = getattr(message, name)
                if not values:
                    continue
            elif message.HasField(name):  # a nested message
                values = (getattr(message, name),)
            else:
                continue
            if kind.nested:
                for nested in values:
                    self._collect(node, nested, kind, item, out)  # type: ignore[arg-type]
                continue
            if kind.counted:
                self.items += len(values)
            out.append((node, item, message, name, kind, list(values)))

    def _level(self, groups: list[_Group]) -> list[_Group]:
        """Pre-filter every payload of ``groups`` in one engine call; redact the suspicious
        leaves, parse the suspicious items; return the next level's groups.

        Equal leaf payloads (the same attribute on many spans) are shown once. In a large
        group of items of which a sample is mostly suspicious, every item is taken as
        suspicious without asking (the pre-filter would cost more than it saves).
        """
        item_groups: list[_Group] = []
        item_starts: list[int] = []
        chunks: list[bytes] = []
        known: list[int] = []  # item positions taken as suspicious without asking
        leaf_groups: list[_Group] = []
        leaf_starts: list[int] = []
        leaves: list[bytes] = []
        for group in groups:
            if isinstance(group[4], Shape):
                item_groups.append(group)
                item_starts.append(len(chunks))
                self._item_chunks(group[5], chunks, known)
            else:
                leaf_groups.append(group)
                leaf_starts.append(len(leaves))
                leaves.extend(group[5])
        unique = list(dict.fromkeys(leaves)) if len(leaves) > 1 else leaves
        count = len(chunks)
        flagged = self._which(chunks + unique if unique else chunks)
        out: list[_Group] = []
        positions = [position for position in flagged if position < count]
        if known:
            positions = sorted(set(positions).union(known))
        for position in positions:
            number = bisect_right(item_starts, position) - 1
            self._parse(item_groups[number], position - item_starts[number], out)
        suspicious = {unique[position - count] for position in flagged if position >= count}
        if suspicious:
            for position in [i for i, leaf in enumerate(leaves) if leaf in suspicious]:
                number = bisect_right(leaf_starts, position) - 1
                self._redact(leaf_groups[number], position - leaf_starts[number])
        return out

    def _redact(self, group: _Group, index: int) -> None:
        """Redact suspicious leaf ``index`` of ``group``; record the change, if any."""
        node, item, message, field, kind, values = group
        assert item is not None and isinstance(kind, Leaf), "a leaf outside any item"
        hits = item.hits
        if hits is None:
            hits = item.hits = Counter()
        result = kind.redact(self.engine, values[index], hits)
        if result is not None:
            node.changes.append((message, field, index, result))

    def _item_chunks(self, values: list[bytes], chunks: list[bytes], known: list[int]) -> None:
        """Add the serialized items ``values`` to the ``chunks`` to pre-filter; or, for each
        one taken as suspicious without asking, add its position to ``known`` and an empty
        chunk (never flagged) to ``chunks``."""
        start = len(chunks)
        if len(values) < _SAMPLE_FROM:
            chunks.extend(values)
            return
        found = list(self._which(values[:_SAMPLE]))
        if len(found) >= _MOSTLY:
            known.extend(range(start, start + len(values)))
            chunks.extend(itertools.repeat(b"", len(values)))
            return
        known.extend(start + index for index in found)
        chunks.extend(itertools.repeat(b"", _SAMPLE))
        chunks.extend(values[_SAMPLE:])

    def _parse(self, group: _Group, index: int, out: list[_Group]) -> None:
        """Parse suspicious item ``index`` of ``group``; add its walked fields to ``out``."""
        parent, item, message, field, kind, values = group
        assert isinstance(kind, Shape)
        payload = values[index]
        slot = (parent, message, field, index)
        node = _Node(kind.parse(payload), payload, slot, kind.count_field)
        self._nodes.append(node)
        self._collect(node, node.message, kind, node if kind.count_field else item, out)

    def _which(self, chunks: list[bytes]) -> Iterable[int]:
        """Indices of the ``chunks`` that might contain PII, in increasing order."""
        if not chunks:
            return ()
        if self._many is not None:
            return sorted(set(self._many(chunks)))
        suspicious = self.engine.might_contain_pii
        return [index for index, chunk in enumerate(chunks) if suspicious(chunk)]

    def _rebuild(self, data: bytes) -> bytes:
        """Apply the edits deepest first; serialize each changed node into its parent."""
        for node in reversed(self._nodes):
            if not node.changes:
                continue
            _apply(node.changes)
            if node.hits:
                self._count(node)
            if node.slot is None:
                result: bytes = node.message.SerializeToString()
                return result
            parent, message, field, index = node.slot
            parent.changes.append((message, field, index, node.message.SerializeToString()))
        return data

    def _count(self, item: _Node) -> None:
        """Add ``redaction.count`` to a changed item (or add to its existing count)."""
        hits = item.hits
        assert hits is not None and item.count_field is not None
        self.changed_items += 1
        self._changed.append(hits)
        attributes = getattr(item.message, item.count_field)
        if _COUNT_PREFIX in item.original:
            for index, raw in enumerate(attributes):
                if raw.startswith(_COUNT_PREFIX):
                    existing = _decode_pair(raw)
                    attributes[index] = counted_key_value(existing, hits).SerializeToString()
                    return
        attributes.append(_count_pair(max(sum(hits.values()), 1)))


def _count_pair(count: int) -> bytes:
    """KeyValue{key: "redaction.count", value: {int_value: count}}, encoded by hand exactly
    as protobuf encodes it (the common case, on every changed item)."""
    if count < len(_COUNT_PAIRS):
        return _COUNT_PAIRS[count]
    return _COUNT_PREFIX + encode_field(2, b"\x18" + encode_varint(count))


_COUNT_PAIRS: list[bytes] = []
_COUNT_PAIRS.extend(_COUNT_PREFIX + encode_field(2, b"\x18" + bytes((n,))) for n in range(128))


def add_to_count(existing: bytes, hits: Counter[str]) -> bytes:
    """The serialized ``redaction.count`` attribute replacing ``existing`` (a serialized
    count attribute) on an item with ``hits``."""
    result: bytes = counted_key_value(_decode_pair(existing), hits).SerializeToString()
    return result


def _decode_pair(payload: bytes) -> KeyValue:
    try:
        return KeyValue.FromString(payload)
    except (DecodeError, RecursionError) as error:
        raise OtlpDecodeError(f"invalid KeyValue: {error}") from error


def _apply(changes: list[_Change]) -> None:
    """Make the ``changes``: replacements first, then deletions from the end."""
    if len(changes) == 1 and changes[0][3] is not DROPPED:  # the common case
        message, field, index, value = changes[0]
        getattr(message, field)[index] = value
        return
    deletions: dict[tuple[int, str], tuple[Any, list[int]]] = {}
    for message, field, index, value in changes:
        if value is DROPPED:
            deletions.setdefault((id(message), field), (message, []))[1].append(index)
        else:
            getattr(message, field)[index] = value
    for (_, field), (message, indices) in deletions.items():
        values = getattr(message, field)
        for index in sorted(indices, reverse=True):
            del values[index]
