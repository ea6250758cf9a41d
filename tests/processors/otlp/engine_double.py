"""A tiny stand-in for the redaction engine with the same methods, for walker tests.

Rules: phone numbers are pseudonymised (``phone:<hash>``), e-mail addresses masked, the key
``password`` masked, ``message.content`` becomes ``<N chars>``, ``drop.me`` is dropped. Its
pre-filter is conservative for exactly these rules.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

_PHONE = re.compile(r"\+\d[\d ]{8,14}\d")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_LENGTH = re.compile(r"<\d+ chars>")
_SUSPICIOUS = re.compile(rb"\+\d|@|password|message\.content|drop\.me")


class EngineDouble:
    DROP = object()

    def redact_text(self, text: str, hits: Counter[str]) -> str:
        def phone(match: re.Match[str]) -> str:
            hits["phone"] += 1
            digest = hashlib.sha256(match.group().encode()).hexdigest()[:8]
            return f"phone:{digest}"

        def email(match: re.Match[str]) -> str:
            hits["email"] += 1
            return "***"

        return _EMAIL.sub(email, _PHONE.sub(phone, text))

    def redact_value(self, key: str, value: object, hits: Counter[str]) -> object:
        if key == "drop.me":
            hits["drop"] += 1
            return self.DROP
        if key == "password":
            hits["password"] += 1
            return "***"
        if key == "message.content" and isinstance(value, str) and not _LENGTH.fullmatch(value):
            hits["message"] += 1
            return f"<{len(value)} chars>"
        if isinstance(value, str):
            return self.redact_text(value, hits)
        if isinstance(value, list):
            return [self.redact_value(key, item, hits) for item in value]
        if isinstance(value, dict):
            result = {}
            for name, item in value.items():
                redacted = self.redact_value(name, item, hits)
                if redacted is not self.DROP:
                    result[name] = redacted
            return result
        return value

    def might_contain_pii(self, data: bytes) -> bool:
        return _SUSPICIOUS.search(data) is not None


class BatchScanEngineDouble(EngineDouble):
    """The double with the optional one-call pre-filter over many chunks."""

    def might_contain_pii_many(self, chunks: list[bytes]) -> list[int]:
        joined = b"\0".join(chunks)
        if not self.might_contain_pii(joined):
            return []
        return [index for index, chunk in enumerate(chunks) if self.might_contain_pii(chunk)]
