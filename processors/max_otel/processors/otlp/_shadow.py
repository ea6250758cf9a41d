"""Shapes: what the fast path redacts in one OTLP message type, and its *shadow* type.

A :class:`Shape` names the fields of a message that can hold redactable text and how each is
redacted (a leaf such as an attribute, or a nested shape)::

    span = Shape(Span, {"name": TEXT, "attributes": ATTRIBUTE}, count_field="attributes")
    scope_spans = Shape(ScopeSpans, {"spans": span}, prefilter=False)
    message = scope_spans.parse(payload)    # upb parses it; message.spans: list of bytes

Each shape compiles, once, a *shadow* protobuf type: the real message type with the same
field numbers and wire types, in which every leaf, every nested shape that is pre-filtered
(``prefilter=True``: parsed only when the engine's pre-filter calls its bytes suspicious)
and every other sub-message is a *repeated* ``bytes`` field, while nested shapes with
``prefilter=False`` stay sub-messages (parsed together with their parent) and enums become
``int32`` (the same wire form). So upb cuts a request into spans, or a span into attributes,
at C speed and never decodes a clean piece; each occurrence of a field is kept, in order,
even of a singular field written twice; and a shadow message serializes as the real one
would after the same edits (fields in number order, unknown fields kept), byte for byte for
canonical input.

Contract: ``parse`` raises :class:`OtlpDecodeError` on bytes that are not a valid encoding
of the shadow type (which accepts a superset of the real type's valid encodings: nested
pieces kept as bytes are not checked until parsed).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError

from max_otel.processors.otlp.errors import OtlpDecodeError
from max_otel.processors.otlp.pieces import RedactionEngine

_FieldProto = descriptor_pb2.FieldDescriptorProto
_POOL = descriptor_pool.DescriptorPool()
_PACKAGE = "max_otel.otlp_shadow"
_names = itertools.count()


class Leaf:
    """A redactable piece whose payload is given to the engine (attribute, text, body)."""

    counted = False
    nested = False

    def redact(self, engine: RedactionEngine, payload: bytes, hits: Counter[str]) -> object:
        """The new payload, ``DROPPED``, or ``None`` when nothing changed."""
        raise NotImplementedError


class Shape:
    """How the fast path walks one message type (see the module docstring).

    ``fields``: field name -> :class:`Leaf` or nested ``Shape``. ``prefilter``: the message
    is parsed only when the pre-filter calls its bytes suspicious (spans, log records,
    metrics, data points, resources, scopes); otherwise it is walked whenever its parent is
    (the request and its containers; events, links and status inside a span).
    ``count_field``: the message is an item that gets ``redaction.count`` in this attribute
    field when anything in it changed; ``counted``: it is one of the request's items.
    """

    def __init__(
        self,
        message: Any,
        fields: dict[str, Leaf | Shape],
        *,
        prefilter: bool = True,
        count_field: str | None = None,
        counted: bool = False,
    ) -> None:
        descriptor: Descriptor = message.DESCRIPTOR
        self.full_name = descriptor.full_name
        self.prefilter = prefilter
        self.nested = not prefilter
        self.count_field = count_field
        self.counted = counted
        by_name = descriptor.fields_by_name
        # (name, kind, repeated in the shadow type, tag) for each walked field, by number;
        # tag: the one-byte tag of a nested shape's field, which cannot be present in a
        # message whose bytes lack that byte (a cheap test before asking upb), else None.
        self.walked: tuple[tuple[str, Leaf | Shape, bool, bytes | None], ...] = tuple(
            (name, kind, _repeated(by_name[name], kind), _tag(by_name[name], kind))
            for name, kind in sorted(fields.items(), key=lambda item: by_name[item[0]].number)
        )
        if count_field is not None and (not prefilter or fields.get(count_field) is None):
            raise ValueError(
                "count_field must be a walked field of a pre-filtered shape; got "
                f"{count_field} on {descriptor.full_name}"
            )
        self.shadow: Any = _compile(descriptor, fields)

    def parse(self, payload: bytes) -> Any:
        """The shadow message of ``payload``; ``OtlpDecodeError`` if it is malformed."""
        try:
            return self.shadow.FromString(payload)
        except (DecodeError, RecursionError) as error:
            raise OtlpDecodeError(f"invalid {self.full_name}: {error}") from error


def _tag(field: FieldDescriptor, kind: Leaf | Shape) -> bytes | None:
    """The one-byte tag of a nested shape's field (number < 16, length-delimited), else None."""
    if isinstance(kind, Shape) and kind.nested and field.number < 16:
        return bytes((field.number << 3 | 2,))
    return None


def _repeated(field: FieldDescriptor, kind: Leaf | Shape) -> bool:
    """Whether walked ``field`` is repeated in the shadow type: leaves and pre-filtered
    shapes always are (see ``_compile``), nested shapes as in the real type."""
    if isinstance(kind, Shape) and kind.nested:
        return field.is_repeated
    if field.containing_oneof is not None:
        raise ValueError(
            f"a leaf or pre-filtered field must not be in a oneof; got {field.full_name}"
        )
    return True


def _compile(descriptor: Descriptor, fields: dict[str, Leaf | Shape]) -> Any:
    """Build the shadow message class of ``descriptor`` for ``fields`` (module docstring)."""
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    del proto.nested_type[:]
    del proto.enum_type[:]
    del proto.extension_range[:]
    proto.name = f"{descriptor.name}_{next(_names)}"
    file = descriptor_pb2.FileDescriptorProto(
        name=f"{_PACKAGE.replace('.', '/')}/{proto.name}.proto",
        package=_PACKAGE,
        syntax="proto3",
    )
    for field in proto.field:
        kind = fields.get(field.name)
        if isinstance(kind, Shape) and kind.nested:
            field.type = _FieldProto.TYPE_MESSAGE
            field.type_name = f".{kind.shadow.DESCRIPTOR.full_name}"
            file.dependency.append(kind.shadow.DESCRIPTOR.file.name)
        elif kind is not None or field.type in (_FieldProto.TYPE_MESSAGE, _FieldProto.TYPE_GROUP):
            # Every occurrence kept, in order: a duplicate of a singular field (not written
            # by any encoder, but valid) is walked too, never hidden by "last one wins".
            field.type = _FieldProto.TYPE_BYTES
            field.ClearField("type_name")
            if not field.HasField("oneof_index"):
                field.label = _FieldProto.LABEL_REPEATED
        elif field.type == _FieldProto.TYPE_ENUM:  # open enum: same wire form as int32
            field.type = _FieldProto.TYPE_INT32
            field.ClearField("type_name")
    file.message_type.append(proto)
    _POOL.Add(file)
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{_PACKAGE}.{proto.name}"))
