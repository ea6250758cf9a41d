"""Encode spans into an OTLP ``ExportTraceServiceRequest`` without one protobuf object per value.

The OTLP exporter's own encoder (``encode_spans``) builds a protobuf object for every span,
attribute, key and value, and hashes each span's resource as JSON to group the spans: 75-200
us of CPU per HTTP server span on a shared 2-core machine, about as much as creating it. Most of a
service's attributes repeat from one request to the next (method, route, host, scheme, status
code), so ``SpanRequestEncoder`` writes the protobuf wire format itself, keeps each encoded
``key=value`` pair of a string, integer or boolean in a bounded cache, encodes each resource
and instrumentation scope once, and hands the exporter the same message, parsed from those
bytes by protobuf's C parser::

    encoder = SpanRequestEncoder()
    request = encoder(spans)            # == encode_spans(spans), field for field
    use_span_request_encoder(otlp_span_exporter)   # the exporter then encodes with it

The message is the one ``encode_spans`` builds, for every input (the tests compare both): the
same grouping by resource and scope, values of every attribute type, the same presence of
empty fields, and an attribute the SDK encoder cannot encode (an integer beyond 64 bits, a
value of another type) is left out with a logged error, as there. Only redacted spans reach
it: it runs inside the exporter, behind ``RedactingSpanExporter``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import Attributes

from max_otel.instrumentation.plain_attributes import plain_attributes
from max_otel.processors.otlp._wire import encode_varint

logger = logging.getLogger(__name__)

_DEFAULT_MAX_CACHED_PAIRS = 4096
_MAX_CACHED_TEXT = 256
"""Longest key or string value (characters) whose encoded pair is cached."""
_MAX_CACHED_OBJECTS = 64

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_SPAN_KINDS = {  # SDK kind -> encoded ``kind`` field (Span.SpanKind numbers)
    SpanKind.INTERNAL: b"\x30\x01",
    SpanKind.SERVER: b"\x30\x02",
    SpanKind.CLIENT: b"\x30\x03",
    SpanKind.PRODUCER: b"\x30\x04",
    SpanKind.CONSUMER: b"\x30\x05",
}
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # field 16: HAS_IS_REMOTE
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # ... | IS_REMOTE
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)  # Link field 6
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
_FIXED64 = struct.Struct("<Q")
_DOUBLE = struct.Struct("<d")
_CACHED_TYPES = (str, int, bool)

E = TypeVar("E")


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + encode_varint(len(payload)) + payload


def _text(tag: bytes, text: str) -> bytes:
    return _length_delimited(tag, text.encode("utf-8"))


def _any_value(value: object) -> bytes:
    """Payload of an ``AnyValue``; raises for what ``encode_spans`` cannot encode either."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _text(b"\x0a", value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + encode_varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _length_delimited(b"\x3a", value)
    if isinstance(value, Sequence):
        items = b"".join(_length_delimited(b"\x0a", _any_value(item)) for item in value)
        return _length_delimited(b"\x2a", items)
    if isinstance(value, Mapping):
        pairs = b"".join(
            _length_delimited(b"\x0a", _key_value(str(key), item)) for key, item in value.items()
        )
        return _length_delimited(b"\x32", pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: object) -> bytes:
    """Payload of a ``KeyValue`` (the value is always present, as ``encode_spans`` sets it)."""
    encoded_key = _text(b"\x0a", key) if key else b""
    return encoded_key + _length_delimited(b"\x12", _any_value(value))


class SpanRequestEncoder:
    """Callable: ReadableSpans -> ``ExportTraceServiceRequest`` (what ``encode_spans`` builds).

    Keeps at most ``max_cached_pairs`` encoded attribute pairs (emptied when full) and the
    encoding of the last 64 resources and scopes. One encoder serves one exporter: the batch
    processor calls it under its export lock.
    """

    def __init__(self, max_cached_pairs: int = _DEFAULT_MAX_CACHED_PAIRS) -> None:
        if max_cached_pairs < 0:
            raise ValueError(f"max_cached_pairs must be at least 0; got {max_cached_pairs}")
        self._max_pairs = max_cached_pairs
        self._pairs: dict[tuple[str, type, object], bytes] = {}
        self._resources: dict[int, tuple[Resource, bytes]] = {}
        self._scopes: dict[int, tuple[InstrumentationScope, bytes]] = {}
        self._names: dict[str, bytes] = {}

    def __call__(self, spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return ExportTraceServiceRequest.FromString(self.encode(spans))

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """The serialized request."""
        groups: list[tuple[Resource, dict[InstrumentationScope | None, list[bytes]]]] = []
        group_of: dict[int, int] = {}
        # (resource group, id(scope)) -> its list: hashing a scope runs Python code; equal
        # scopes of different objects still share one list, as in ``encode_spans``.
        lists: dict[tuple[int, int], list[bytes]] = {}
        for span in spans:
            resource = span.resource
            index = group_of.get(id(resource))
            if index is None:
                index = next((i for i, (r, _) in enumerate(groups) if r == resource), len(groups))
                if index == len(groups):
                    groups.append((resource, {}))
                group_of[id(resource)] = index
            scope = span.instrumentation_scope or None
            scope_spans = lists.get((index, id(scope)))
            if scope_spans is None:
                scope_spans = lists[index, id(scope)] = groups[index][1].setdefault(scope, [])
            scope_spans.append(_length_delimited(b"\x12", self._span(span)))
        return b"".join(
            _length_delimited(b"\x0a", self._resource_spans(resource, scopes))
            for resource, scopes in groups
        )

    def _resource_spans(
        self, resource: Resource, scopes: dict[InstrumentationScope | None, list[bytes]]
    ) -> bytes:
        parts = [self._resource(resource)]
        for scope, spans in scopes.items():
            body = self._scope(scope) + b"".join(spans)
            if scope is not None and scope.schema_url:
                body += _text(b"\x1a", scope.schema_url)
            parts.append(_length_delimited(b"\x12", body))
        if resource.schema_url:
            parts.append(_text(b"\x1a", resource.schema_url))
        return b"".join(parts)

    def _resource(self, resource: Resource) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1]
        encoded = _length_delimited(b"\x0a", self._attributes(b"\x0a", resource.attributes))
        if len(self._resources) >= _MAX_CACHED_OBJECTS:
            self._resources.clear()
        self._resources[id(resource)] = (resource, encoded)
        return encoded

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        if scope is None:
            return b"\x0a\x00"
        cached = self._scopes.get(id(scope))
        if cached is not None and cached[0] is scope:
            return cached[1]
        body = b""
        if scope.name:
            body += _text(b"\x0a", scope.name)
        if scope.version:
            body += _text(b"\x12", scope.version)
        body += self._attributes(b"\x1a", scope.attributes)
        encoded = _length_delimited(b"\x0a", body)
        if len(self._scopes) >= _MAX_CACHED_OBJECTS:
            self._scopes.clear()
        self._scopes[id(scope)] = (scope, encoded)
        return encoded

    def _attributes(self, tag: bytes, attributes: Attributes) -> bytes:
        """Each attribute as a ``KeyValue`` field ``tag``; unencodable ones left out."""
        if not attributes:
            return b""
        parts: list[bytes] = []
        pairs = self._pairs
        for key, value in plain_attributes(attributes).items():
            kind = type(value)
            cached = kind in _CACHED_TYPES
            cache_key = (key, kind, value)
            encoded = pairs.get(cache_key) if cached else None
            if encoded is None:
                try:
                    payload = _key_value(key, value)
                except Exception as error:
                    logger.exception("Failed to encode key %s: %s", key, error)
                    continue
                encoded = encode_varint(len(payload)) + payload
                if cached and self._max_pairs and self._cacheable(key, value):
                    if len(pairs) >= self._max_pairs:
                        pairs.clear()
                    pairs[cache_key] = encoded
            parts.append(tag)
            parts.append(encoded)
        return b"".join(parts)

    @staticmethod
    def _cacheable(key: object, value: object) -> bool:
        return (
            isinstance(key, str)
            and len(key) <= _MAX_CACHED_TEXT
            and (not isinstance(value, str) or len(value) <= _MAX_CACHED_TEXT)
        )

    def _name(self, name: str) -> bytes:
        encoded = self._names.get(name)
        if encoded is None:
            encoded = _text(b"\x2a", name)
            if len(name) <= _MAX_CACHED_TEXT:
                if len(self._names) >= _MAX_CACHED_OBJECTS:
                    self._names.clear()
                self._names[name] = encoded
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        context = span.get_span_context()
        assert context is not None  # an ended SDK span always has one
        parts = [
            b"\x0a\x10",
            context.trace_id.to_bytes(16, "big"),
            b"\x12\x08",
            context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:  # (iterating even an empty TraceState runs Python methods)
            state = ",".join(f"{key}={value}" for key, value in trace_state.items())
            if state:
                parts.append(_text(b"\x1a", state))
        parent = span.parent
        if parent:
            parts.append(b"\x22\x08")
            parts.append(parent.span_id.to_bytes(8, "big"))
        if span.name:
            parts.append(self._name(span.name))
        parts.append(_SPAN_KINDS[span.kind])
        if span.start_time:
            parts.append(b"\x39" + _FIXED64.pack(span.start_time))
        if span.end_time:
            parts.append(b"\x41" + _FIXED64.pack(span.end_time))
        parts.append(self._attributes(b"\x4a", span.attributes))
        if span.dropped_attributes:
            parts.append(b"\x50" + encode_varint(span.dropped_attributes))
        for event in span.events:
            parts.append(_length_delimited(b"\x5a", self._event(event)))
        if span.dropped_events:
            parts.append(b"\x60" + encode_varint(span.dropped_events))
        for link in span.links:
            parts.append(_length_delimited(b"\x6a", self._link(link)))
        if span.dropped_links:
            parts.append(b"\x70" + encode_varint(span.dropped_links))
        status = span.status
        if status is not None:
            body = _text(b"\x12", status.description) if status.description else b""
            if status.status_code.value:
                body += b"\x18" + encode_varint(status.status_code.value)
            parts.append(_length_delimited(b"\x7a", body))
        parts.append(_FLAGS_REMOTE if parent and parent.is_remote else _FLAGS_LOCAL)
        return b"".join(parts)

    def _event(self, event: Any) -> bytes:
        body = b"\x09" + _FIXED64.pack(event.timestamp) if event.timestamp else b""
        if event.name:
            body += _text(b"\x12", event.name)
        body += self._attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + encode_varint(event.dropped_attributes)
        return body

    def _link(self, link: Any) -> bytes:
        context = link.context
        body = (
            b"\x0a\x10"
            + context.trace_id.to_bytes(16, "big")
            + b"\x12\x08"
            + context.span_id.to_bytes(8, "big")
            + self._attributes(b"\x22", link.attributes)
        )
        if link.dropped_attributes:
            body += b"\x28" + encode_varint(link.dropped_attributes)
        return body + (_LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL)


def use_span_request_encoder(exporter: E) -> E:
    """Make an OTLP/gRPC span exporter encode with a ``SpanRequestEncoder``; any other
    exporter is returned untouched. Returns ``exporter``."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    if isinstance(exporter, OTLPSpanExporter):
        # OTLPExporterMixin._export encodes with ``self._translate_data`` (pinned exactly).
        exporter._translate_data = SpanRequestEncoder()  # type: ignore[method-assign,assignment]
    return exporter
