"""The key/value-pair detector: ``password=hunter2``, ``"phone": "+1..."`` inside free text.

Exception messages and log lines carry serialised parameters (SQLAlchemy's
``[parameters: {'phone': '+14155550123', 'body': 'hi'}]``, query strings, headers). This
detector finds ``key: value`` / ``key=value`` pairs (keys optionally quoted, values quoted
or up to the next space or delimiter) and applies the *key rules* to the value: a
``sensitive_keys`` rule's action replaces just the value, keeping the key and the quotes
(``'body': '<2 chars>'``). Pairs whose key is not sensitive are left to the value detectors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import re2

from max_otel.processors.redaction._detectors import SENSITIVE_PAIR, Finding
from max_otel.processors.redaction._keys import KeyClassifier
from max_otel.processors.redaction._rules import KeyRule
from max_otel.processors.redaction._search import Searcher


def pair_pattern(mask_text: str, redacted_text: str) -> str:
    """RE2 pattern: group 1 the key, group 2 the value (quoted, a redaction, or bare)."""
    value = "|".join(
        (
            r'"(?:[^"\\\n]|\\.)*"',
            r"'(?:[^'\\\n]|\\.)*'",
            re2.escape(mask_text),
            re2.escape(redacted_text),
            r"<[0-9]+ chars>",
            r"[^\s\"',;&}\])]+",
        )
    )
    return rf"[\"']?([A-Za-z_][A-Za-z0-9_.\-]{{0,63}})[\"']?[ \t]*[:=][ \t]*({value})"


class SensitivePairDetector:
    """Finds pairs whose key matches a ``sensitive_keys`` rule; see the module docstring."""

    name = SENSITIVE_PAIR
    protect = True  # "phone:k1:..." is a pseudonym, not a pair

    def __init__(
        self,
        classify: KeyClassifier,
        rule_text: Callable[[KeyRule, str], str],
        already_redacted: Callable[[str], bool],
        mask_text: str,
        redacted_text: str,
    ) -> None:
        self.pattern = pair_pattern(mask_text, redacted_text)
        self._searcher = Searcher(self.pattern)
        self._classify = classify
        self._rule_text = rule_text
        self._already_redacted = already_redacted

    def find(self, data: bytes) -> Iterator[Finding]:
        position = 0
        while position <= len(data):
            spans = self._searcher.search(data, position)
            if spans is None:
                return
            (match_start, match_end), (key_start, key_end), (start, end) = spans[:3]
            quoted = data[start : start + 1] in (b'"', b"'") and end - start >= 2
            if quoted:
                start, end = start + 1, end - 1
            decision = self._classify(data[key_start:key_end].decode("utf-8", "replace"))
            if decision.rule is None:
                # not sensitive: look for pairs inside the value too
                position = start if start > match_start else match_start + 1
                continue
            value = data[start:end].decode("utf-8", "surrogatepass")
            if self._already_redacted(value) or not value:
                yield Finding(start, end, "", data[start:end])
            else:
                replacement = self._rule_text(decision.rule, value)
                yield Finding(start, end, decision.rule.name, replacement.encode("utf-8"))
            position = max(match_end, match_start + 1)
