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

from max_otel.processors.redaction._pseudonym import PSEUDONYM_PATTERN, PseudonymKey
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
        self._key = key
        self._pseudonyms: dict[tuple[str, str], str] = {}

    def pseudonymise(self, kind: str, text: str) -> str:
        """``PseudonymKey.pseudonymise`` through the bounded cache."""
        cache_key = (kind, text)
        pseudonym = self._pseudonyms.get(cache_key)
        if pseudonym is None:
            pseudonym = self._key.pseudonymise(kind, text)
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
        return (
            text == self.mask
            or text == "?"
            or text == self._redacted
            or _LENGTH.fullmatch(text) is not None
            or _PSEUDONYM.fullmatch(text) is not None
        )

    def already_redacted_bytes(self, data: bytes) -> bool:
        return self.already_redacted(data.decode("utf-8", "surrogatepass"))

    def replacer(self, action: str, kind: str) -> Callable[[bytes], bytes]:
        """A detector's replace function: the pseudonym of the match, or the mask text."""
        if action == "pseudonymise":

            def pseudonymise(match: bytes) -> bytes:
                return self.pseudonymise(kind, match.decode("utf-8", "surrogatepass")).encode()

            return pseudonymise
        mask = self._mask_bytes
        return lambda _match: mask
