"""Protobuf wire format, just enough for the fast path's hand-encoded attributes.

upb cuts messages into fields (:mod:`max_otel.processors.otlp._shadow`); this module reads
varints and writes length-delimited fields::

    >>> encode_field(1, b"abc")
    b'\\n\\x03abc'
    >>> read_varint(b"\\x96\\x01", 0)
    (150, 2)

Contract: :func:`read_varint` raises :class:`OtlpDecodeError` on a truncated or overlong
varint and never reads past the end of its input.
"""

from __future__ import annotations

from max_otel.processors.otlp.errors import OtlpDecodeError

_MAX_VARINT_BYTES = 10


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
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
