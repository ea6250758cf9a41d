"""The attribute-map fast path: clean values cost one shared scan, not one call each.

``AttributeMapScrubber(...)(attributes, hits)`` returns the dict that applying
``Redactor.redact_value`` to every item would give (dropped keys removed), with fewer steps:

- each key's decision comes straight from the classifier's cache;
- values of kept keys, and numbers, booleans and ``None`` under scrubbed keys, are copied;
- a string under a key rule gets the rule directly;
- plain strings that only the detectors or the URL scrubber could change are joined and
  scanned together (``PiiScanner.locate``); only the values in which the scan finds
  something are redacted one by one, so a clean map costs one RE2 search and a map with k
  PII values about k + 1;
- anything else (maps, lists, bytes, JSON held in text, SQL keys) takes ``redact_value``.

It may raise on a bug: the ``Redactor`` catches that and redacts the map item by item.
A failure on one value masks that value (hit ``fail_closed``), as ``redact_value`` does.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping

from max_otel.processors.redaction._keys import (
    KEEP,
    SCAN,
    TEXT,
    URL,
    KeyClassifier,
    KeyDecision,
)
from max_otel.processors.redaction._rules import KeyRule
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._text import TextScrubber
from max_otel.processors.redaction._values import DROP, JSON_START, ValueScrubber

logger = logging.getLogger(__name__)

FAIL_CLOSED = "fail_closed"
"""Hit name of a value masked because redacting it failed."""

_OTHER = KeyDecision("other")  # the key could not be classified: redact_value decides
_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})


class AttributeMapScrubber:
    """``scrubber(attributes, hits)`` -> the redacted copy; see the module docstring."""

    def __init__(
        self,
        classify: KeyClassifier,
        values: ValueScrubber,
        text: TextScrubber,
        scanner: PiiScanner,
        redact_value: Callable[[str, object, Counter[str]], object],
        mask_text: str,
    ) -> None:
        self._classify = classify
        self._decisions = classify.cache
        self._values = values
        self._text = text
        self._scanner = scanner
        self._redact_value = redact_value
        self._mask = mask_text

    def __call__(self, attributes: Mapping[str, object], hits: Counter[str]) -> dict[str, object]:
        items = dict(attributes)  # one read of the mapping, which may be changing
        out = items.copy()  # values that change are replaced in place, so order is kept
        pending_keys: list[str] = []
        pending_values: list[str] = []
        dropped: list[str] = []
        decisions = self._decisions
        for key, value in items.items():
            decision = decisions.get(key)
            if decision is None:
                decision = self._decide(key)
            if decision is KEEP:
                continue
            kind = type(value)
            if decision is SCAN or decision is TEXT or decision is URL:
                if kind is str:
                    if value[:1] not in JSON_START:  # type: ignore[index]  # a str
                        pending_keys.append(key)
                        pending_values.append(value)  # type: ignore[arg-type]  # a str
                        continue
                elif kind in _PLAIN_SCALARS:
                    continue
            elif kind is str and decision.rule is not None:
                result = self._apply_rule(key, decision.rule, value, hits)  # type: ignore[arg-type]
                if result is DROP:
                    dropped.append(key)
                else:
                    out[key] = result
                continue
            result = self._redact_value(key, value, hits)
            if result is DROP:
                dropped.append(key)
            else:
                out[key] = result
        if pending_values:
            for index in self._flagged(pending_values):
                key = pending_keys[index]
                out[key] = self._scrub(key, pending_values[index], hits)
        for key in dropped:
            del out[key]
        return out

    def _decide(self, key: str) -> KeyDecision:
        try:
            return self._classify(key)
        except Exception:
            return _OTHER

    def _flagged(self, values: list[str]) -> list[int]:
        """Indices of ``values`` in which the scan finds something (one scan, k+1 calls)."""
        try:
            return self._scanner.locate_texts(values)
        except Exception:
            logger.exception("PII scan failed; scrubbing every value")
            return list(range(len(values)))

    def _scrub(self, key: str, text: str, hits: Counter[str]) -> object:
        """A flagged plain-text value: straight to the detectors (the result of
        ``redact_value``, in fewer steps); URL values take ``redact_value``."""
        if self._decide(key) is URL:
            return self._redact_value(key, text, hits)
        try:
            return self._text.scrub(text, hits)
        except Exception:
            return self._fail_closed(key, hits)

    def _apply_rule(self, key: str, rule: KeyRule, value: str, hits: Counter[str]) -> object:
        try:
            return self._values.apply_rule(rule, value, hits, 0)
        except Exception:
            return self._fail_closed(key, hits)

    def _fail_closed(self, key: str, hits: Counter[str]) -> str:
        logger.exception("redaction of attribute %r failed; value masked", key)
        hits[FAIL_CLOSED] += 1
        return self._mask
