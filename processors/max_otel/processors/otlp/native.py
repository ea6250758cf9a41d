"""The compiled walk: the fast path's work done by ``max_otel_native`` when it is installed.

The compiled module (``processors/native``, Rust) validates a whole request, runs the
engine's own pre-filter patterns over every attribute, name and body (remembering the
pieces found clean, which most of a batch's pieces are, batch after batch), hands only the
suspicious pieces, all in one call, to the same Python leaves the pure-Python fast path
uses (:mod:`max_otel.processors.otlp._leaves`), and splices their results back::

    walks = CompiledWalks([TRACES, LOGS, METRICS])        # the request shapes, once
    result = walks.redact(TRACES, engine, request_bytes)   # None: walk in Python instead

Contract: the same result as the pure-Python fast path (and so the reference walker), with
``OtlpDecodeError`` for malformed input, checked against the whole protobuf schema of the
request (strings must be UTF-8, nesting is bounded), so the service needs no separate
validation parse. ``use_native(False)`` turns it off (tests compare both walks).
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from max_otel.processors.otlp._leaves import ATTRIBUTE, BODY, TEXT, encode_pair, redact_leaves
from max_otel.processors.otlp._shadow import Leaf, Shape
from max_otel.processors.otlp._walker import add_to_count
from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import DROPPED, RedactionEngine
from max_otel.processors.otlp.result import RedactionResult
from max_otel.processors.redaction.native_syntax import regex_crate_patterns

logger = logging.getLogger(__name__)

try:
    import max_otel_native
except ImportError:  # the pure-Python fast path does the work
    max_otel_native = None  # type: ignore[assignment]

_FIXED64 = frozenset(
    {FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_DOUBLE}
)
_FIXED32 = frozenset(
    {FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_FLOAT}
)
_MESSAGE = frozenset({FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP})
_ROLES: dict[int, Leaf] = {1: ATTRIBUTE, 2: TEXT, 3: BODY}
_WALK = 4

_enabled = True


def available() -> bool:
    """Whether the compiled module is installed."""
    return max_otel_native is not None


def use_native(enabled: bool) -> None:
    """Use the compiled walk when possible (the default), or never."""
    global _enabled
    _enabled = enabled


class _Schema:
    """Every message type of the walked requests, numbered as the compiled walker wants
    them: ``(count field number, counted, [(number, kind, child, role)])`` each."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, bool, list[tuple[int, int, int, int]]]] = []
        self._index: dict[tuple[str, int], int] = {}

    def add(self, descriptor: Descriptor, shape: Shape | None) -> int:
        """The index of ``descriptor`` walked with ``shape`` (``None``: validated only)."""
        key = (descriptor.full_name, id(shape))
        if key in self._index:
            return self._index[key]
        index = len(self.messages)
        self._index[key] = index
        walked = {} if shape is None else {name: kind for name, kind, _, _ in shape.walked}
        fields: list[tuple[int, int, int, int]] = []
        count_field = 0
        self.messages.append((0, False, fields))
        for field in descriptor.fields:
            kind = walked.get(field.name)
            child = 0
            if field.type in _MESSAGE:
                child = self.add(field.message_type, kind if isinstance(kind, Shape) else None)
            fields.append((field.number, _kind(field), child, _role(kind)))
        if shape is not None and shape.count_field is not None:
            count_field = descriptor.fields_by_name[shape.count_field].number
        self.messages[index] = (count_field, shape is not None and shape.counted, fields)
        return index


def _kind(field: FieldDescriptor) -> int:
    if field.type == FieldDescriptor.TYPE_STRING:
        return 3
    if field.type == FieldDescriptor.TYPE_BYTES:
        return 4
    if field.type in _MESSAGE:
        return 5
    if field.type in _FIXED64:
        return 1
    if field.type in _FIXED32:
        return 2
    return 0


def _role(kind: Leaf | Shape | None) -> int:
    if kind is None:
        return 0
    if isinstance(kind, Shape):
        return _WALK
    return next(code for code, leaf in _ROLES.items() if leaf is kind)


class CompiledWalks:
    """The compiled walks of a set of request shapes, with one compiled walker per engine
    (each compiles its engine's pre-filter patterns)."""

    def __init__(self, shapes: Sequence[Shape]) -> None:
        self._schema = _Schema()
        self._roots = {id(shape): self._schema.add(_descriptor(shape), shape) for shape in shapes}
        self._walkers: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def redact(self, shape: Shape, engine: RedactionEngine, data: bytes) -> RedactionResult | None:
        """Redact ``data``, a serialized message of ``shape`` (one of the request shapes);
        ``None`` when the compiled walk cannot serve (module not installed, turned off, or
        an engine without ``prefilter_patterns``): the caller walks in Python."""
        walker = self._walker(engine)
        if walker is None:
            return None
        try:
            redacted, items, changed_items, hits = walker.redact(
                self._roots[id(shape)], engine, data
            )
        except max_otel_native.WireError as error:
            raise OtlpDecodeError(str(error)) from error
        return RedactionResult(redacted, items, changed_items, Counter(hits))

    def serves(self, engine: RedactionEngine) -> bool:
        """Whether the compiled walk redacts for ``engine`` (else the Python walk does)."""
        return self._walker(engine) is not None

    def _walker(self, engine: RedactionEngine) -> Any:
        if not _enabled or max_otel_native is None:
            return None
        try:
            return self._walkers[engine]
        except KeyError:
            pass
        except TypeError:  # an engine that cannot be weakly referenced
            return None
        walker = self._build(engine)
        self._walkers[engine] = walker
        return walker

    def _build(self, engine: RedactionEngine) -> Any:
        patterns = getattr(engine, "prefilter_patterns", None)
        if not callable(patterns):
            return None
        value_patterns, key_patterns = (regex_crate_patterns(some) for some in patterns())
        if value_patterns is None or key_patterns is None:
            logger.error("a redaction pattern has no compiled equivalent; walking in Python")
            return None
        try:
            return max_otel_native.OtlpWalker(
                self._schema.messages,
                value_patterns,
                key_patterns,
                ATTRIBUTE,
                TEXT,
                BODY,
                DROPPED,
                redact_leaves,
                add_to_count,
                encode_pair,
                callable(getattr(engine, "keeps_key", None)),
                _text_scrubber(engine),
            )
        except ValueError:
            logger.exception("the compiled walk cannot use these rules; walking in Python")
            return None


def _text_scrubber(engine: RedactionEngine) -> Any:
    """The engine's compiled text scrubber, if it has one and says which keys it serves
    (``compiled_text_scrubber`` and ``scrubs_as_text``), else None."""
    scrubber = getattr(engine, "compiled_text_scrubber", None)
    if not callable(scrubber) or not callable(getattr(engine, "scrubs_as_text", None)):
        return None
    compiled = scrubber()
    return compiled if isinstance(compiled, max_otel_native.PlainScrubber) else None


def _descriptor(shape: Shape) -> Descriptor:
    descriptor: Descriptor = descriptor_pool.Default().FindMessageTypeByName(shape.full_name)
    return descriptor
