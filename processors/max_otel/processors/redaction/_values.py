"""Redacting one value: its key's decision first, then structure-aware scrubbing.

The key decision (see ``RedactionRules``) picks keep, a key rule (mask / pseudonymise /
length / drop; ``None`` and booleans are kept, other scalars are turned into text first,
maps and lists are masked whole or redacted leaf by leaf), or scrubbing by route: ``url``
(``UrlScrubber``), ``sql`` (literals -> ``?``, then the detectors), ``text`` / ``scan``
(the detectors). Scrubbing walks maps, lists and tuples (map keys get their own decision),
parses strings holding JSON objects or arrays (re-serialised only if something changed),
decodes bytes (UTF-8, else Latin-1) and leaves numbers alone: a bare number is only
redacted under a sensitive key, so an integer id or an epoch timestamp is never taken for a
phone. Nesting deeper than ``max_depth`` is masked (hit ``depth_cap``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Final

from max_otel.processors.redaction._keys import KeyClassifier
from max_otel.processors.redaction._replacements import Replacements
from max_otel.processors.redaction._rules import KeyRule
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._text import TextScrubber
from max_otel.processors.redaction._url import UrlScrubber

DEPTH_CAP = "depth_cap"
JSON_START = ("{", "[")
_JSON_END = ("}", "]")
_NOT_JSON = object()


class _Drop:
    """The value returned for a key whose rule says ``drop``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()


class ValueScrubber:
    """``value(key, value, hits)`` -> the redacted value or ``DROP``. May raise on a bug:
    the ``Redactor`` catches and fails closed."""

    def __init__(
        self,
        classify: KeyClassifier,
        replacements: Replacements,
        scanner: PiiScanner,
        text: TextScrubber,
        url: UrlScrubber,
        max_depth: int,
    ) -> None:
        self._classify = classify
        self._replacements = replacements
        self._scanner = scanner
        self._text = text
        self._url = url
        self._max_depth = max_depth

    def value(self, key: object, value: object, hits: Counter[str], depth: int = 0) -> object:
        decision = self._classify(key if isinstance(key, str) else str(key))
        if decision.route == "keep":
            return value
        if decision.rule is not None:
            return self.apply_rule(decision.rule, value, hits, depth)
        return self.scrub(decision.route, value, hits, depth)

    def apply_rule(self, rule: KeyRule, value: object, hits: Counter[str], depth: int) -> object:
        """``rule``'s action on ``value``; see the module docstring. (Hits are counted with
        ``get``: ``+=`` on a key a ``Counter`` lacks calls its ``__missing__``, slowly.)"""
        if value is None or isinstance(value, bool):
            return value
        replacements = self._replacements
        if rule.action == "drop":
            hits[rule.name] = hits.get(rule.name, 0) + 1
            return DROP
        if isinstance(value, str):
            if replacements.already_redacted(value):
                return value
            hits[rule.name] = hits.get(rule.name, 0) + 1
            return replacements.rule_text(rule, value)
        if rule.action == "mask":
            hits[rule.name] = hits.get(rule.name, 0) + 1
            return replacements.mask
        if isinstance(value, (int, float)):
            hits[rule.name] = hits.get(rule.name, 0) + 1
            return replacements.rule_text(rule, str(value))
        if isinstance(value, (bytes, bytearray)):
            hits[rule.name] = hits.get(rule.name, 0) + 1
            return replacements.rule_text(rule, decode(bytes(value))).encode("utf-8")
        if depth >= self._max_depth:
            hits[DEPTH_CAP] += 1
            return replacements.mask
        if isinstance(value, Mapping):
            return {k: self.apply_rule(rule, v, hits, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = [self.apply_rule(rule, item, hits, depth + 1) for item in value]
            return tuple(items) if isinstance(value, tuple) else items
        hits[rule.name] = hits.get(rule.name, 0) + 1
        return replacements.mask

    def scrub(self, route: str, value: object, hits: Counter[str], depth: int) -> object:
        """``value`` scrubbed by ``route`` (url, sql, text or scan), walking containers."""
        if isinstance(value, str):
            return self._scrub_str(route, value, hits, depth)
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, (bytes, bytearray)):
            text = decode(bytes(value))
            scrubbed = self._scrub_str(route, text, hits, depth)
            if scrubbed is text:
                return value
            return scrubbed.encode("utf-8" if _is_utf8(bytes(value)) else "latin-1", "replace")
        if depth >= self._max_depth:
            hits[DEPTH_CAP] += 1
            return self._replacements.mask
        if isinstance(value, Mapping):
            out = {}
            for item_key, item in value.items():
                result = self.value(item_key, item, hits, depth + 1)
                if result is not DROP:
                    out[item_key] = result
            return out
        if isinstance(value, (list, tuple)):
            items = [self.scrub(route, item, hits, depth + 1) for item in value]
            return tuple(items) if isinstance(value, tuple) else items
        return self._scrub_str(route, str(value), hits, depth)

    def _scrub_str(self, route: str, text: str, hits: Counter[str], depth: int) -> str:
        if route == "sql":
            data = text.encode("utf-8", "surrogatepass")
            scrubbed = self._text.scrub_sql_bytes(data, hits)
            return text if scrubbed is data else scrubbed.decode("utf-8", "surrogatepass")
        if route == "url":
            if not self._scanner.might_match(text.encode("utf-8", "surrogatepass")):
                return text
            return self._url(text, hits)
        stripped = text.strip()
        if stripped[:1] in JSON_START and stripped[-1:] in _JSON_END:
            parsed = _parse_json(stripped)
            if parsed is not _NOT_JSON:
                return self._scrub_json(text, parsed, hits, depth)
        return self._text.scrub(text, hits)

    def _scrub_json(self, text: str, parsed: object, hits: Counter[str], depth: int) -> str:
        local: Counter[str] = Counter()
        scrubbed = self.scrub("scan", parsed, local, depth + 1)
        if not local:
            return text
        hits.update(local)
        separators = (", ", ": ") if '": ' in text else (",", ":")
        return json.dumps(scrubbed, ensure_ascii=False, separators=separators)


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes) -> str:
    """UTF-8 text, or Latin-1 (every byte one character) for anything else."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")
