"""OTLP ``AnyValue`` to Python values and back, the form the redaction engine works on.

::

    >>> from opentelemetry.proto.common.v1.common_pb2 import AnyValue
    >>> to_python(AnyValue(string_value="hello"))
    'hello'
    >>> to_any_value({"phone": "+44 20 7946 0958", "n": [1, 2.5, True]}).kvlist_value.values[0].key
    'phone'

Mapping: string, bool, int, double, bytes map to ``str``, ``bool``, ``int``, ``float``,
``bytes``; ``array_value`` to ``list``; ``kvlist_value`` to ``dict`` (a later duplicate key
wins); an empty ``AnyValue`` to ``None``. Back: ``tuple`` is an array too, an int outside the
int64 range and any other object become their ``str`` (never an error: the engine's output is
always encodable). Nesting depth is bounded by protobuf's own recursion limit on decode.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def to_python(value: AnyValue) -> object:
    """Return the Python form of ``value`` (see the module docstring for the mapping)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return value.string_value
    if kind == "array_value":
        return [to_python(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {pair.key: to_python(pair.value) for pair in value.kvlist_value.values}
    result: object = getattr(value, kind)
    return result


def fill_any_value(target: AnyValue, value: object) -> None:
    """Set ``target`` (cleared first) to the OTLP form of the Python ``value``."""
    target.Clear()
    if value is None:
        return
    if isinstance(value, str):
        target.string_value = value
    elif isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, bytes | bytearray | memoryview):
        target.bytes_value = bytes(value)
    elif isinstance(value, list | tuple):
        values = target.array_value.values
        target.array_value.SetInParent()
        for item in value:
            fill_any_value(values.add(), item)
    elif isinstance(value, Mapping):
        pairs = target.kvlist_value.values
        target.kvlist_value.SetInParent()
        for key, item in value.items():
            pair = pairs.add()
            pair.key = str(key)
            fill_any_value(pair.value, item)
    else:
        target.string_value = str(value)


def to_any_value(value: object) -> AnyValue:
    """Return a new ``AnyValue`` holding the OTLP form of ``value``."""
    result = AnyValue()
    fill_any_value(result, value)
    return result
