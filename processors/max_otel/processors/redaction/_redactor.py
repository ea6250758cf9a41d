"""The ``Redactor``: the engine's public face, with the fast path for attribute maps.

    >>> from max_otel.processors.redaction import PseudonymKey, RedactionHits, load_rules
    >>> redactor = Redactor(load_rules(), PseudonymKey.generate_throwaway())
    >>> hits = RedactionHits()
    >>> redactor.redact_attributes(
    ...     {"conversation_id": "c-1", "password": "hunter2", "message.body": "hi there"}, hits
    ... )
    {'conversation_id': 'c-1', 'password': '***', 'message.body': '<8 chars>'}
    >>> dict(hits)
    {'password': 1, 'message_content': 1}

What happens to one value is ``ValueScrubber``'s job (``_values``); this module wires the
parts together once, at construction, and guarantees the contract: nothing raises. Any
internal error masks the value and counts ``fail_closed``, so a bug can cost an attribute,
never leak it.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

import re2
from max_otel.processors.redaction._detectors import (
    BUILTIN_DETECTORS,
    BUILTIN_NAMES,
    SENSITIVE_PAIR,
    Detector,
    RegexDetector,
)
from max_otel.processors.redaction._keys import KeyClassifier, KeyDecision
from max_otel.processors.redaction._pairs import SensitivePairDetector
from max_otel.processors.redaction._pseudonym import PseudonymKey
from max_otel.processors.redaction._replacements import Replacements
from max_otel.processors.redaction._rules import KeyRule, RedactionRules
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._text import TextScrubber
from max_otel.processors.redaction._url import URL_IN_TEXT, UrlScrubber, UrlTextDetector
from max_otel.processors.redaction._values import DROP, JSON_START, ValueScrubber

logger = logging.getLogger(__name__)

RedactionHits = Counter[str]
"""Rule name -> number of redactions; one per batch or record, owned by the caller."""

FAIL_CLOSED = "fail_closed"
_SCRUB_ROUTES = frozenset({"scan", "url", "text"})
_ROUTE_CACHE_SIZE = 4096
_KEEP, _SCRUB, _OTHER = object(), object(), object()
_PLAIN_SCALARS = frozenset({int, float, bool, type(None)})


def routes_text(route: str) -> bool:
    """True for the routes whose plain (non-JSON) strings only the text detectors change."""
    return route == "scan" or route == "text"


class Redactor:
    """Redacts attribute maps, values and text with one rule set and one pseudonym key.

    Safe to share between threads (its only mutable state is caches of key decisions and
    pseudonyms, updated with atomic dict operations). Compiles every pattern once, here.
    """

    DROP: Final = DROP

    def __init__(self, rules: RedactionRules, key: PseudonymKey) -> None:
        rules.validate(BUILTIN_NAMES)
        self._mask = rules.mask_text
        self._fast_routes: dict[str, object] = {}
        self._classify = KeyClassifier(rules)
        replacements = Replacements(rules, key)
        self._replacements = replacements
        detectors = _detectors(rules, replacements)
        structural: list[Detector] = []
        if rules.detectors.get(SENSITIVE_PAIR, "disabled") != "disabled":
            structural.append(
                SensitivePairDetector(
                    self._classify,
                    replacements.rule_text,
                    replacements.already_redacted,
                    rules.mask_text,
                    rules.url_redacted_text,
                )
            )
        url = UrlScrubber(
            self._classify,
            frozenset(rules.url_sensitive_query_params),
            rules.url_redacted_text,
            self.redact_text,
            replacements.rule_text,
            replacements.already_redacted,
        )
        key_patterns = [rule.pattern for rule in rules.sensitive_keys]
        key_patterns += [re2.escape(name) + "=" for name in rules.url_sensitive_query_params]
        key_patterns += [re2.escape(name) for name in rules.sql_keys]
        self._scanner = PiiScanner([d.pattern for d in detectors], key_patterns, URL_IN_TEXT)
        self._text = TextScrubber(
            self._scanner, detectors, structural, UrlTextDetector(url), rules.mask_text
        )
        self._values = ValueScrubber(
            self._classify, replacements, self._scanner, self._text, url, rules.max_depth
        )

    # -- public API -----------------------------------------------------------------------

    def redact_text(self, text: str, hits: RedactionHits) -> str:
        """``text`` with every detector finding replaced (SQL literals too when it looks
        like SQL); the same string object when nothing was found."""
        return self._text.scrub(text, hits)

    def redact_value(self, key: str, value: object, hits: RedactionHits) -> object:
        """The redacted ``value`` of attribute ``key``, or ``Redactor.DROP``. Never raises."""
        try:
            return self._values.value(key, value, hits)
        except Exception:
            logger.exception("redaction of attribute %r failed; value masked", key)
            hits[FAIL_CLOSED] += 1
            return self._mask

    def redact_attributes(
        self, attributes: Mapping[str, object], hits: RedactionHits
    ) -> dict[str, object]:
        """A new dict: ``redact_value`` on each item, dropped keys removed. Never raises.

        Fast path: plain string values that only the detectors could change are joined and
        scanned together; only the values where the scan finds something are redacted one
        by one, so a clean map costs one scan and a map with k PII values about k + 1.
        """
        try:
            return self._redact_attributes(attributes, hits)
        except Exception:
            logger.exception("redaction of an attribute map failed; redacting item by item")
            hits[FAIL_CLOSED] += 1
        try:
            out: dict[str, object] = {}
            for key, value in list(attributes.items()):
                result = self.redact_value(key, value, hits)
                if result is not DROP:
                    out[key] = result
            return out
        except Exception:
            logger.exception("attribute map unreadable; all attributes dropped")
            return {}

    def _redact_attributes(
        self, attributes: Mapping[str, object], hits: RedactionHits
    ) -> dict[str, object]:
        out: dict[str, object] = {}
        pending_keys: list[str] = []
        pending_values: list[str] = []
        routes = self._fast_routes
        for key, value in attributes.items():
            route = routes.get(key)
            if route is None:
                route = self._fast_route(key)
            if route is _KEEP:
                out[key] = value
                continue
            if route is _SCRUB:
                kind = type(value)
                if kind is str:
                    text: str = value  # type: ignore[assignment]  # checked just above
                    if text[:1] not in JSON_START:
                        out[key] = text
                        pending_keys.append(key)
                        pending_values.append(text)
                        continue
                elif kind in _PLAIN_SCALARS:
                    out[key] = value
                    continue
            elif route is not _OTHER and type(value) is str:
                rule: KeyRule = route  # type: ignore[assignment]  # the only other kind
                result = self._apply_rule_safely(key, rule, value, hits)
                if result is not DROP:
                    out[key] = result
                continue
            result = self.redact_value(key, value, hits)
            if result is not DROP:
                out[key] = result
        if pending_values:
            for index in self._values_to_scrub(pending_values):
                key = pending_keys[index]
                out[key] = self._scrub_pending(key, pending_values[index], hits)
        return out

    def _scrub_pending(self, key: str, text: str, hits: RedactionHits) -> object:
        """A flagged plain-text value of a scan/text key goes straight to the detectors
        (same result as ``redact_value``, fewer steps); URL values take the long way."""
        if routes_text(self._classify(key).route):
            try:
                return self._text.scrub(text, hits)
            except Exception:
                logger.exception("redaction of attribute %r failed; value masked", key)
                hits[FAIL_CLOSED] += 1
                return self._mask
        return self.redact_value(key, text, hits)

    def _apply_rule_safely(
        self, key: str, rule: KeyRule, value: str, hits: RedactionHits
    ) -> object:
        try:
            return self._values.apply_rule(rule, value, hits, 0)
        except Exception:
            logger.exception("redaction of attribute %r failed; value masked", key)
            hits[FAIL_CLOSED] += 1
            return self._mask

    def _fast_route(self, key: str) -> object:
        """``_KEEP``, ``_SCRUB`` (detectors only), the ``KeyRule`` or ``_OTHER``, cached."""
        try:
            decision = self._classify(key)
        except Exception:
            decision = KeyDecision("other")
        route = decision.route
        fast: object = _OTHER
        if route == "keep":
            fast = _KEEP
        elif route in _SCRUB_ROUTES:
            fast = _SCRUB
        elif decision.rule is not None:
            fast = decision.rule
        if len(self._fast_routes) >= _ROUTE_CACHE_SIZE:
            self._fast_routes.clear()
        self._fast_routes[key] = fast
        return fast

    def _values_to_scrub(self, values: list[str]) -> list[int]:
        """Indices of ``values`` in which the scan finds something (one scan, k+1 calls)."""
        try:
            joined = "\0".join(values)
            if joined.isascii():
                return self._locate(joined.encode("ascii"), [len(value) for value in values])
            encoded = [value.encode("utf-8", "surrogatepass") for value in values]
            return self._locate(b"\0".join(encoded), [len(item) for item in encoded])
        except Exception:
            logger.exception("PII scan failed; scrubbing every value")
            return list(range(len(values)))

    def _locate(self, data: bytes, lengths: list[int]) -> list[int]:
        """Indices of the ``\\0``-joined pieces of ``data`` (of ``lengths``) in which a
        relaxed pattern match starts, in increasing order."""
        buffer = self._scanner.buffer(data)
        hit = self._scanner.first_hit(buffer)
        if hit < 0:
            return []
        starts = []
        position = 0
        for length in lengths:
            starts.append(position)
            position += length + 1
        middle = len(data) + 1
        found: set[int] = set()
        while hit >= 0:
            offset = middle if hit >= middle else 0
            index = min(bisect_right(starts, hit - offset) - 1, len(starts) - 1)
            found.add(index)
            if index + 1 < len(starts):
                position = offset + starts[index + 1]
            elif offset == 0:
                position = middle
            else:
                break
            hit = self._scanner.first_hit(buffer, position)
        return sorted(found)

    def might_contain_pii_many(
        self, chunks: Sequence[bytes | bytearray | memoryview | str]
    ) -> list[int]:
        """Indices, in increasing order, of the ``chunks`` for which ``might_contain_pii``
        could be True, found with one scan of them all (plus one call per hit). Each chunk
        gets exactly the guarantee of ``might_contain_pii``. Never raises: on any error
        every index is returned."""
        try:
            pieces = [
                chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else bytes(chunk)
                for chunk in chunks
            ]
            if not pieces:
                return []
            return self._locate(b"\0".join(pieces), [len(piece) for piece in pieces])
        except Exception:
            logger.exception("PII pre-filter failed; assuming PII")
            return list(range(len(chunks)))

    def might_contain_pii(self, data: bytes | bytearray | memoryview | str) -> bool:
        """Conservative pre-filter: False only if redacting anything held in ``data`` would
        change nothing (except the ``depth_cap`` masking of over-deep nesting).

        ``data`` may be text or raw bytes such as a serialised OTLP protobuf or JSON
        request. One RE2 scan looks for every enabled detector (relaxed: no boundaries, no
        validators), URL credentials (``/...@``), ``%XX`` and ``\\uXXXX`` escapes, SQL
        keywords, and, over the bytes normalised like keys, every sensitive key pattern,
        sensitive URL parameter and SQL key. Key patterns ending in ``$`` rely on a key
        being followed by a byte other than a letter, digit, ``_``, ``-``, ``.`` or space
        (true of protobuf, JSON, query strings and ``key=value`` text). Never raises:
        returns True on any error. See docs/redaction-rules.md.
        """
        try:
            raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
            return self._scanner.might_match(raw)
        except Exception:
            logger.exception("PII pre-filter failed; assuming PII")
            return True

    def find_pii(self, text: str) -> list[tuple[str, str]]:
        """(rule, matched text) for each finding ``redact_text`` would replace: a
        dry-run view, also used by the property tests to check nothing survives."""
        data = text.encode("utf-8", "surrogatepass")
        return [
            (f.rule, data[f.start : f.end].decode("utf-8", "surrogatepass"))
            for f in self._text.findings(data)
        ]


def _detectors(rules: RedactionRules, replacements: Replacements) -> list[Detector]:
    """The enabled built-in detectors, in priority order, then the custom ones."""
    skip = replacements.already_redacted_bytes
    detectors: list[Detector] = []
    for name, spec in BUILTIN_DETECTORS.items():
        action = rules.detectors.get(name, "disabled")
        if action != "disabled":
            replace = replacements.replacer(action, spec.kind)
            detectors.append(
                RegexDetector(
                    name, spec.pattern, replace, spec.validate, spec.group, skip, spec.protect
                )
            )
    for custom in rules.custom_detectors:
        replace = replacements.replacer(custom.action, custom.pseudonym_kind)
        detectors.append(RegexDetector(custom.name, custom.pattern, replace, skip=skip))
    return detectors
