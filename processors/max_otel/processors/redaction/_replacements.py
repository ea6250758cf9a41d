"""What redacted values become, and how to recognise a value that already is a redaction.

``Replacements(rules, key)`` turns a key rule's action into text (mask text, pseudonym,
``<N chars>``), builds the replace function of a detector, and says whether a text is
already the output of a redaction (the mask text, ``REDACTED``, ``?``, ``<N chars>`` or a
pseudonym), which every rule and detector leaves alone so that redacting twice changes
nothing. Pseudonyms go through a bounded cache: the same customers recur within a batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from max_otel.processors.redaction._pseudonym import (
    PSEUDONYM_PATTERN,
    PseudonymKey,
    pseudonym_function,
)
from max_otel.processors.redaction._rules import KeyRule, RedactionRules

_LENGTH = re.compile(r"<[0-9]+ chars>")
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
_CACHE_SIZE = 8192


class Replacements:
    """Replacement texts for one rule set and one pseudonym key."""

    def __init__(self, rules: RedactionRules, key: PseudonymKey) -> None:
        self.mask = rules.mask_text
        self._mask_bytes = rules.mask_text.encode("utf-8")
        self._redacted = rules.url_redacted_text
        self._redacted_bytes = rules.url_redacted_text.encode("utf-8", "surrogatepass")
        self._pseudonymise = pseudonym_function(key)
        self._pseudonyms: dict[tuple[str, str], str] = {}

    def pseudonymise(self, kind: str, text: str) -> str:
        """``key.pseudonymise`` (see ``pseudonym_function``) through the bounded cache."""
        cache_key = (kind, text)
        pseudonym = self._pseudonyms.get(cache_key)
        if pseudonym is None:
            pseudonym = self._pseudonymise(kind, text)
            if len(self._pseudonyms) >= _CACHE_SIZE:
                self._pseudonyms.clear()
            self._pseudonyms[cache_key] = pseudonym
        return pseudonym

    def rule_text(self, rule: KeyRule, text: str) -> str:
        """What ``text`` becomes under ``rule`` (``drop`` in text: the mask text)."""
        if rule.action == "pseudonymise":
            return self.pseudonymise(rule.pseudonym_kind, text)
        if rule.action == "length":
            return f"<{len(text)} chars>"
        return self.mask

    def already_redacted(self, text: str) -> bool:
        if ":" not in text and text[:1] != "<":  # neither a pseudonym nor "<N chars>"
            return text == self.mask or text == "?" or text == self._redacted
        return (
            text == self.mask
            or text == "?"
            or text == self._redacted
            or _LENGTH.fullmatch(text) is not None
            or _PSEUDONYM.fullmatch(text) is not None
        )

    def already_redacted_bytes(self, data: bytes) -> bool:
        if data.isascii() and b":" not in data and data[:1] != b"<":
            return data == self._mask_bytes or data == b"?" or data == self._redacted_bytes
        return self.already_redacted(data.decode("utf-8", "surrogatepass"))

    def replacer(self, action: str, kind: str) -> Callable[[bytes], bytes]:
        """A detector's replace function: the pseudonym of the match, or the mask text."""
        if action == "pseudonymise":
            cache: dict[bytes, bytes] = {}  # the same bounded cache, by the matched bytes

            def pseudonymise(match: bytes) -> bytes:
                pseudonym = cache.get(match)
                if pseudonym is None:
                    text = match.decode("utf-8", "surrogatepass")
                    pseudonym = self.pseudonymise(kind, text).encode()
                    if len(cache) >= _CACHE_SIZE:
                        cache.clear()
                    cache[match] = pseudonym
                return pseudonym

            return pseudonymise
        mask = self._mask_bytes
        return lambda _match: mask
