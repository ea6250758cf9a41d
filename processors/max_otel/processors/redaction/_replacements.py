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
    Pseudonymiser,
    PseudonymKey,
    pseudonym_function,
)
from max_otel.processors.redaction._rules import KeyRule, RedactionRules

_LENGTH = re.compile(r"<[0-9]+ chars>")
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
_CACHE_SIZE = 8192
_COLON = ord(":")
"""``_COLON in data``: a byte as an int, since ``b":" in data`` costs an exception inside."""


class Replacements:
    """Replacement texts for one rule set and one pseudonym key."""

    def __init__(self, rules: RedactionRules, key: PseudonymKey) -> None:
        self.mask = rules.mask_text
        self._mask_bytes = rules.mask_text.encode("utf-8")
        self._redacted = rules.url_redacted_text
        self._redacted_bytes = rules.url_redacted_text.encode("utf-8", "surrogatepass")
        self._plain_redactions = frozenset({self._mask_bytes, b"?", self._redacted_bytes})
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
        """``already_redacted`` of UTF-8 ``data``, mostly without decoding it."""
        if data in self._plain_redactions:
            return True
        if data.isascii() and _COLON not in data and data[:1] != b"<":
            return False  # neither a pseudonym nor "<N chars>", nor a plain redaction
        return self.already_redacted(data.decode("utf-8", "surrogatepass"))

    def replacer(self, action: str, kind: str) -> Callable[[bytes], bytes | None]:
        """A detector's replace function: the pseudonym of the match, or the mask text;
        None for a match that already is a redaction (``already_redacted_bytes``)."""
        redacted, plain = self.already_redacted_bytes, self._plain_redactions
        if action == "pseudonymise":
            cache: dict[bytes, bytes] = {}  # the same bounded cache, by the matched bytes
            compute, size = self._bytes_pseudonymiser(kind), _CACHE_SIZE

            def pseudonymise(match: bytes) -> bytes | None:
                pseudonym = cache.get(match)  # a match in the cache is no redaction
                if pseudonym is None:
                    if (  # the common "no redaction" of already_redacted_bytes, inline
                        match in plain
                        or _COLON in match
                        or match.startswith(b"<")
                        or not match.isascii()
                    ) and redacted(match):
                        return None
                    pseudonym = compute(match)
                    if len(cache) >= size:
                        cache.clear()
                    cache[match] = pseudonym
                return pseudonym

            return pseudonymise
        mask = self._mask_bytes
        return lambda match: None if redacted(match) else mask

    def _bytes_pseudonymiser(self, kind: str) -> Callable[[bytes], bytes]:
        """The pseudonym of a match, from bytes to bytes (``Pseudonymiser.for_kind``), or
        through the text cache when the key's class pseudonymises in its own way."""
        if isinstance(self._pseudonymise, Pseudonymiser):
            return self._pseudonymise.for_kind(kind)
        return lambda match: self.pseudonymise(
            kind, match.decode("utf-8", "surrogatepass")
        ).encode()
