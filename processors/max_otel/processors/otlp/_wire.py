"""Protobuf wire format, just enough to cut a serialized message into its fields.

The fast path never decodes a clean field: it finds field boundaries with :func:`scan_fields`
and copies clean bytes as they are. Only length-delimited fields (strings, bytes, nested
messages) can hold text, so only they carry a payload offset::

    >>> scan_fields(b"\\x0a\\x03abc\\x10\\x01")
    [(1, 0, 2, 5), (2, 5, -1, 7)]

Contract: :func:`scan_fields` raises :class:`OtlpDecodeError` on truncated or impossible input
(varints longer than ten bytes, field number 0, groups, lengths past the end) and never reads
past ``len(data)``.
"""

from __future__ import annotations

from max_otel.processors.otlp.errors import OtlpDecodeError

# (field number, offset of the tag, offset of the payload or -1 when not length-delimited, end)
Field = tuple[int, int, int, int]

_MAX_VARINT_BYTES = 10


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint starting at ``pos``; return (value, offset after it)."""
    result = 0
    shift = 0
    end = min(len(data), pos + _MAX_VARINT_BYTES)
    while pos < end:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
    raise OtlpDecodeError("truncated or overlong varint in protobuf message")


def scan_fields(data: bytes) -> list[Field]:
    """Return every top-level field of the serialized message ``data``, in wire order."""
    fields: list[Field] = []
    append = fields.append
    size = len(data)
    pos = 0
    while pos < size:
        start = pos
        tag = data[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = _read_varint(data, pos)
        wire_type = tag & 7
        number = tag >> 3
        if number == 0:
            raise OtlpDecodeError("field number 0 in protobuf message")
        if wire_type == 2:
            if pos >= size:
                raise OtlpDecodeError("truncated length in protobuf message")
            length = data[pos]
            if length < 0x80:
                pos += 1
            elif pos + 1 < size and data[pos + 1] < 0x80:  # two-byte length: under 16 KiB
                length = (length & 0x7F) | (data[pos + 1] << 7)
                pos += 2
            else:
                length, pos = _read_varint(data, pos)
            payload = pos
            pos += length
        elif wire_type == 0:
            _, pos = _read_varint(data, pos)
            payload = -1
        elif wire_type == 1:
            pos += 8
            payload = -1
        elif wire_type == 5:
            pos += 4
            payload = -1
        else:
            raise OtlpDecodeError(f"unsupported protobuf wire type {wire_type}")
        if pos > size:
            raise OtlpDecodeError("field runs past the end of the protobuf message")
        append((number, start, payload, pos))
    return fields


_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def encode_varint(value: int) -> bytes:
    """Encode a non-negative int as a protobuf varint."""
    if value < 0x80:
        return _ONE_BYTE[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_field(number: int, payload: bytes) -> bytes:
    """Encode a length-delimited field: tag, length, payload."""
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload
