"""Skip redacting the attribute values a span redactor has already found clean.

``RedactingSpanExporter`` redacts every attribute of every span before export. A service's
spans repeat the same values request after request (``http.method=GET``, ``http.route=/ping``,
``http.status_code=200``, the span name ``GET /ping``): ``CleanValueMemo`` wraps the redactor
and remembers the ``(key, value)`` pairs and the texts it returned unchanged, so a span whose
values were all seen clean costs a few dictionary look-ups instead of a scan::

    redactor = CleanValueMemo(build_redactor())
    exporter = RedactingSpanExporter(otlp_exporter, redactor)

Why this is safe: the redactor decides each attribute on its key and value alone (the
contract of ``Redactor.redact_attributes``: the result of ``redact_value`` on each item) with
a fixed configuration, so a pair that came back unchanged once comes back unchanged every
time. Only pairs from a call that counted no redaction at all (no hit, no failure) are
remembered, only strings up to 256 characters, integers and booleans (by exact type, so
``True`` is not taken for ``1``), at most ``max_entries`` of them (the memo is emptied when
full). Everything else, including every value that was changed, goes to the redactor as
before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from max_otel.instrumentation.plain_attributes import plain_attributes
from max_otel.processors.in_process import AttributeRedactor

_DEFAULT_MAX_ENTRIES = 4096
_MAX_TEXT = 256
_REMEMBERED_TYPES = (str, int, bool)


def _rememberable(key: object, value: object) -> bool:
    return (
        type(key) is str
        and len(key) <= _MAX_TEXT
        and type(value) in _REMEMBERED_TYPES
        and (type(value) is not str or len(value) <= _MAX_TEXT)
    )


class CleanValueMemo:
    """An ``AttributeRedactor`` that passes known-clean values through and asks ``redactor``
    about the rest. Never raises (the wrapped redactor does not)."""

    def __init__(self, redactor: AttributeRedactor, max_entries: int = _DEFAULT_MAX_ENTRIES):
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1; got {max_entries}")
        self.redactor = redactor
        self._max_entries = max_entries
        self._pairs: set[tuple[str, type, object]] = set()
        self._texts: set[str] = set()

    def _remember(self, memo: set[object], item: object) -> None:
        if len(memo) >= self._max_entries:
            memo.clear()
        memo.add(item)

    def redact_text(self, text: str, hits: Counter[str]) -> str:
        if text in self._texts:
            return text
        found: Counter[str] = Counter()
        result = self.redactor.redact_text(text, found)
        if found:
            hits.update(found)
        elif result == text and type(text) is str and len(text) <= _MAX_TEXT:
            self._remember(self._texts, text)  # type: ignore[arg-type]
        return result

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object:
        return self.redactor.redact_value(key, value, hits)

    def redact_attributes(
        self, attributes: Mapping[str, object], hits: Counter[str]
    ) -> dict[str, object]:
        items = plain_attributes(attributes)
        pairs = self._pairs
        unknown: dict[str, object] = {}
        for key, value in items.items():
            try:
                if (key, type(value), value) in pairs:
                    continue
            except TypeError:  # an unhashable value
                pass
            unknown[key] = value
        if not unknown:
            return items
        found: Counter[str] = Counter()
        redacted = self.redactor.redact_attributes(unknown, found)
        if found:
            hits.update(found)
        else:
            for key, value in unknown.items():
                if key in redacted and redacted[key] is value and _rememberable(key, value):
                    self._remember(pairs, (key, type(value), value))  # type: ignore[arg-type]
        for key in unknown:
            if key in redacted:
                items[key] = redacted[key]
            else:
                del items[key]
        return items
