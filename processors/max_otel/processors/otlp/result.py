"""What walking one OTLP request returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class RedactionResult:
    """The redacted request and what happened to it.

    ``data`` is the serialized redacted request (the input bytes themselves when nothing
    changed); ``items`` the number of spans, log records or metrics in it (unchanged by
    redaction); ``changed_items`` how many resources, scopes, spans, log records, metrics or
    data points got a ``redaction.count``; ``hits`` the redactions by rule name.
    """

    data: bytes
    items: int = 0
    changed_items: int = 0
    hits: Counter[str] = field(default_factory=Counter)
