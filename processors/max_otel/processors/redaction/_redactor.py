"""The ``Redactor``: the engine's public face.

    >>> from max_otel.processors.redaction import PseudonymKey, RedactionHits, load_rules
    >>> redactor = Redactor(load_rules(), PseudonymKey.generate_throwaway())
    >>> hits = RedactionHits()
    >>> redactor.redact_attributes(
    ...     {"conversation_id": "c-1", "password": "hunter2", "message.body": "hi there"}, hits
    ... )
    {'conversation_id': 'c-1', 'password': '***', 'message.body': '<8 chars>'}
    >>> dict(hits)
    {'password': 1, 'message_content': 1}

What happens to one value is ``ValueScrubber``'s job (``_values``; ``redact_value`` takes
a shortcut to it for the common cases), to a whole map ``AttributeMapScrubber``'s
(``_attributes``); this module wires the parts together once, at construction, and
guarantees the contract: nothing raises. Any internal error masks the value and counts
``fail_closed``, so a bug can cost an attribute, never leak it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Final

import re2

from max_otel.processors.redaction._attributes import FAIL_CLOSED, AttributeMapScrubber
from max_otel.processors.redaction._compiled_text import compiled_plain_scrubber
from max_otel.processors.redaction._detectors import (
    BUILTIN_DETECTORS,
    BUILTIN_NAMES,
    SENSITIVE_PAIR,
    Detector,
    RegexDetector,
)
from max_otel.processors.redaction._keys import KEEP, SCAN, TEXT, KeyClassifier
from max_otel.processors.redaction._pairs import SensitivePairDetector
from max_otel.processors.redaction._pseudonym import PseudonymKey
from max_otel.processors.redaction._replacements import Replacements
from max_otel.processors.redaction._rules import RedactionRules
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._text import PROTECTED_HINT, TextScrubber
from max_otel.processors.redaction._url import URL_IN_TEXT, UrlScrubber, UrlTextDetector
from max_otel.processors.redaction._values import DROP, JSON_START, ValueScrubber

logger = logging.getLogger(__name__)

RedactionHits = Counter[str]
"""Rule name -> number of redactions; one per batch or record, owned by the caller."""

_BYTES = frozenset({bytes})


class Redactor:
    """Redacts attribute maps, values and text with one rule set and one pseudonym key.

    Safe to share between threads (its only mutable state is caches of key decisions and
    pseudonyms, updated with atomic dict operations). Compiles every pattern once, here.
    ``compiled_text`` (default on) lets the compiled module, when installed, run the common
    text case (``_compiled_text``); off, only the pure-Python path runs: the same results.
    """

    DROP: Final = DROP

    def __init__(
        self, rules: RedactionRules, key: PseudonymKey, *, compiled_text: bool = True
    ) -> None:
        rules.validate(BUILTIN_NAMES)
        self._mask = rules.mask_text
        self._classify = KeyClassifier(rules)
        self._decisions = self._classify.cache
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
        key_patterns = [rule.pattern for rule in rules.sensitive_keys]
        key_patterns += [re2.escape(name) + "=" for name in rules.url_sensitive_query_params]
        key_patterns += [re2.escape(name) for name in rules.sql_keys]
        self._scanner = PiiScanner(
            [d.pattern for d in detectors],
            key_patterns,
            URL_IN_TEXT,
            gates=[d.gate for d in detectors],
            protected_hint=PROTECTED_HINT,
        )
        url = UrlScrubber(
            self._classify,
            frozenset(rules.url_sensitive_query_params),
            rules.url_redacted_text,
            self.redact_text,
            replacements.rule_text,
            replacements.already_redacted,
            self._scanner.locate_texts,
        )
        self._compiled_text = (
            compiled_plain_scrubber(self._scanner, detectors) if compiled_text else None
        )
        self._text = TextScrubber(
            self._scanner,
            detectors,
            structural,
            UrlTextDetector(url),
            rules.mask_text,
            None if self._compiled_text is None else self._compiled_text.scrub,
        )
        self._values = ValueScrubber(
            self._classify, replacements, self._scanner, self._text, url, rules.max_depth
        )
        self._attributes = AttributeMapScrubber(
            self._classify, self._values, self._text, self._scanner, self.redact_value, self._mask
        )

    # -- public API -----------------------------------------------------------------------

    def redact_text(self, text: str, hits: RedactionHits) -> str:
        """``text`` with every detector finding replaced (SQL literals too when it looks
        like SQL); the same string object when nothing was found."""
        return self._text.scrub(text, hits)

    def redact_value(self, key: str, value: object, hits: RedactionHits) -> object:
        """The redacted ``value`` of attribute ``key``, or ``Redactor.DROP``. Never raises."""
        try:
            if type(key) is str:  # ValueScrubber.value, with the common cases shortened
                decision = self._decisions.get(key) or self._classify(key)
                if decision is KEEP:
                    return value
                if decision.rule is not None:
                    return self._values.apply_rule(decision.rule, value, hits, 0)
                if type(value) is str and (decision is SCAN or decision is TEXT):
                    first = value[:1]
                    if first not in JSON_START and not first.isspace():  # not JSON
                        return self._text.scrub(value, hits)
                return self._values.scrub(decision.route, value, hits, 0)
            return self._values.value(key, value, hits)
        except Exception:
            logger.exception("redaction of attribute %r failed; value masked", key)
            hits[FAIL_CLOSED] += 1
            return self._mask

    def redact_attributes(
        self, attributes: Mapping[str, object], hits: RedactionHits
    ) -> dict[str, object]:
        """A new dict: ``redact_value`` on each item, dropped keys removed. Never raises.

        Fast path (``AttributeMapScrubber``): plain string values that only the detectors
        could change are joined and scanned together; only the values where the scan finds
        something are redacted one by one, so a clean map costs one scan and a map with k
        PII values about k + 1.
        """
        try:
            return self._attributes(attributes, hits)
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

    def prefilter_patterns(self) -> tuple[list[str], list[str]]:
        """The pre-filter's patterns (RE2 syntax): (value patterns, key patterns).
        ``might_contain_pii(data)`` is False only if no value pattern matches ``data`` and
        no key pattern matches ``data`` normalised like keys (ASCII lower case; ``-``,
        ``.`` and space as ``_``): a pre-filter built from them elsewhere (the OTLP
        service's compiled walk) keeps that guarantee."""
        return list(self._scanner.value_patterns), list(self._scanner.key_patterns)

    def compiled_text_scrubber(self) -> object | None:
        """The compiled text scrubber behind ``redact_text`` (``max_otel_native``'s
        ``PlainScrubber``), or None: for the compiled OTLP walk, with ``scrubs_as_text``."""
        return self._compiled_text

    def scrubs_as_text(self, key: str) -> bool:
        """True when ``redact_value(key, value, hits)`` of a string value that does not
        start with ``{``, ``[`` or white space is ``redact_text(value, hits)``. Never
        raises."""
        try:
            decision = self._decisions.get(key) or self._classify(key)
        except Exception:
            return False
        return decision is SCAN or decision is TEXT

    def keeps_key(self, key: str) -> bool:
        """True when ``redact_value(key, value, hits)`` returns every ``value`` unchanged
        (a key the rules never touch, such as ``conversation_id``). Never raises."""
        try:
            decision = self._decisions.get(key) or self._classify(key)
            return decision is KEEP
        except Exception:
            logger.exception("classifying key %r failed; treating it as sensitive", key)
            return False

    def might_contain_pii_many(
        self, chunks: Sequence[bytes | bytearray | memoryview | str]
    ) -> list[int]:
        """Indices, in increasing order, of the ``chunks`` for which ``might_contain_pii``
        could be True, found with one scan of them all (plus one call per hit). Each chunk
        gets exactly the guarantee of ``might_contain_pii``. Never raises: on any error
        every index is returned."""
        try:
            if set(map(type, chunks)) <= _BYTES:  # the common case, without copies
                return self._scanner.locate(b"\0".join(chunks), list(map(len, chunks)))  # type: ignore[arg-type]
            pieces = [
                chunk.encode("utf-8", "surrogatepass") if isinstance(chunk, str) else bytes(chunk)
                for chunk in chunks
            ]
            return self._scanner.locate(b"\0".join(pieces), [len(piece) for piece in pieces])
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
        being followed by a byte other than a letter, digit, ``_``, ``-``, ``.`` or space,
        or by spaces/tabs then ``:`` or ``=`` (true of protobuf, JSON, query strings and
        ``key=value`` / ``key = value`` text). Never raises:
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


def _detectors(rules: RedactionRules, replacements: Replacements) -> list[RegexDetector]:
    """The enabled built-in detectors, in priority order, then the custom ones."""
    detectors: list[RegexDetector] = []
    for name, spec in BUILTIN_DETECTORS.items():
        action = rules.detectors.get(name, "disabled")
        if action != "disabled":
            replace = replacements.replacer(action, spec.kind)
            detectors.append(
                RegexDetector(
                    name,
                    spec.pattern,
                    replace,
                    spec.validate,
                    spec.group,
                    spec.protect,
                    spec.grouped,
                    spec.literal,
                    spec.gate,
                )
            )
    for custom in rules.custom_detectors:
        replace = replacements.replacer(custom.action, custom.pseudonym_kind)
        detectors.append(RegexDetector(custom.name, custom.pattern, replace))
    return detectors
