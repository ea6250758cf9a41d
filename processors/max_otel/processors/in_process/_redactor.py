"""What the in-process exporters need from a redactor (``max_otel.processors.redaction``'s
``Redactor`` provides it): typed structurally, so this package imports no engine internals.

``hits`` is a ``collections.Counter`` the redactor adds one count per redaction to, so
``sum(hits.values())`` before and after a call tells whether anything changed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Protocol

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.util.types import Attributes


class AttributeRedactor(Protocol):
    """The three redaction calls the exporters make; none of them raises."""

    def redact_text(self, text: str, hits: Counter[str]) -> str: ...

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object: ...

    def redact_attributes(
        self, attributes: Mapping[str, object], hits: Counter[str]
    ) -> dict[str, object]: ...


def redacted_attributes(
    redactor: AttributeRedactor, attributes: Attributes, hits: Counter[str]
) -> Attributes:
    """``attributes`` redacted; the very same object when nothing changed.

    The count of attributes dropped by the SDK's limits is kept (OTLP reports it).
    """
    if not attributes:
        return attributes
    before = sum(hits.values())
    redacted = redactor.redact_attributes(attributes, hits)
    if sum(hits.values()) == before and len(redacted) == len(attributes):
        return attributes
    dropped = getattr(attributes, "dropped", 0)
    if not dropped:
        return redacted  # type: ignore[return-value]
    bounded = BoundedAttributes(maxlen=None, attributes=redacted, immutable=True)  # type: ignore[arg-type]
    bounded.dropped = dropped
    return bounded


def redacted_text(redactor: AttributeRedactor, text: str | None, hits: Counter[str]) -> str | None:
    """``text`` redacted as free text (None and empty text unchanged)."""
    if not text:
        return text
    return redactor.redact_text(text, hits)
