"""Errors raised while walking OTLP requests.

::

    ValueError
    └── OtlpDecodeError        the request bytes are not a valid OTLP protobuf message

Anything else escaping a walker is a bug; the service answers it with ``INTERNAL`` and forwards
nothing (fail closed).
"""

from __future__ import annotations


class OtlpDecodeError(ValueError):
    """The request bytes are not a valid protobuf encoding of the expected OTLP message."""
