"""Value detectors: RE2 patterns (plus validators) that find PII and secrets in free text.

A detector is a small callable type: ``find(data)`` yields ``Finding`` spans of the UTF-8
text ``data`` with their replacement. ``RegexDetector`` covers the built-in catalogue
``BUILTIN_DETECTORS`` and the user's custom detectors; the URL and key/value-pair detectors
live in their own modules. Every pattern is RE2, so scanning is linear in the text whatever
it holds. A candidate the validator rejects is retried one byte further on; the built-in
patterns with validators either match at most a few dozen bytes (phones, cards, IPs, Google
keys) or start at a keyword (``Bearer``, ``Basic``), so retries keep the scan linear;
boundaries that need no validator are RE2 ``\b`` assertions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from max_otel.processors.redaction import _validators as check
from max_otel.processors.redaction._search import Searcher
from max_otel.processors.redaction._validators import Validator


class Finding(NamedTuple):
    """Bytes ``start:end`` of the text are replaced by ``replacement`` (counted under
    ``rule``). A finding whose replacement equals the original *claims* its span: no other
    detector redacts inside it (a URL whose credentials are already ``REDACTED``). A named
    tuple: made for every match, so it must be cheap to build."""

    start: int
    end: int
    rule: str
    replacement: bytes
    extra: tuple[tuple[str, int], ...] = ()  # further hits to count (a URL's parts)


PlainFinding = tuple[int, int, str, bytes, tuple[tuple[str, int], ...]]
"""A ``Finding``'s fields in a plain tuple, as the engine's hot path makes and reads them."""

_new_tuple = tuple.__new__
"""``_new_tuple(Finding, (start, end, rule, replacement, extra))`` is ``Finding(...)``
without the named tuple's ``__new__`` in Python: the hot loops make one per match."""


class Detector(Protocol):
    """Finds PII in UTF-8 text. ``pattern`` (RE2) must match wherever ``find`` may yield."""

    name: str
    pattern: str
    protect: bool  # findings inside protected spans (UUIDs, ids, timestamps) are dropped

    def find(self, data: bytes) -> Iterable[Finding]: ...


@dataclass(frozen=True)
class BuiltinDetector:
    """A built-in detector: pattern, pseudonym kind, validator, and the group to redact."""

    pattern: str
    kind: str
    validate: Validator | None = None
    group: int = 0  # redact only this group (0 = whole match), e.g. the token after Bearer
    protect: bool = False  # may match inside UUIDs, hex ids, timestamps, pseudonyms
    grouped: bool = False  # digit groups: may be cut back before a finding it runs into
    literal: bytes = b""  # bytes every match contains (b"" if none): where it stops
    gate: str = ""  # the scan's pattern if not ``pattern``: see RegexDetector


class RegexDetector:
    """Every validated match of ``pattern`` (or of its ``group``) becomes ``replace(match)``;
    matches for which ``replace`` gives None (already a redaction) are left alone.

    ``literal``, if given, must occur in every match of ``pattern``: the search stops
    past its last occurrence, which saves the RE2 call that would find nothing.
    ``gate`` (default ``pattern``) is what the engine's one-pass scan looks for instead of
    ``pattern``: it must match somewhere in every text in which ``pattern`` does. A gate
    blind to which digit is where (``[0-9]`` for ``[1-9]``, ``0`` or ``9``) keeps the scan's
    DFA from building new states for every new phone number.
    """

    def __init__(
        self,
        name: str,
        pattern: str,
        replace: Callable[[bytes], bytes | None],
        validate: Validator | None = None,
        group: int = 0,
        protect: bool = True,
        grouped: bool = False,
        literal: bytes = b"",
        gate: str = "",
    ) -> None:
        self.name = name
        self.protect = protect
        self.grouped = grouped
        self.pattern = pattern
        self.literal = literal
        self.gate = gate or pattern
        self._searcher = Searcher(pattern)
        self._replace = replace
        self._validate = validate
        self._group = group
        self._loop = (self._searcher.match, self._searcher.anchor, validate, group, replace)

    def parts(self) -> tuple[str, str, int, Validator | None, Callable[[bytes], bytes | None]]:
        """(name, pattern, group, validate, replace): what ``find_plain`` runs, for a
        compiled equivalent."""
        return self.name, self.pattern, self._group, self._validate, self._replace

    def find(self, data: bytes) -> list[Finding]:
        return [_new_tuple(Finding, found) for found in self.find_plain(data)]

    def find_plain(self, data: bytes) -> list[PlainFinding]:
        """``find(data)`` as plain tuples (cheaper to make): in order, none overlapping
        the next, none empty."""
        found: list[PlainFinding] = []
        position = 0
        size = len(data)
        match, anchor, validate, group, replace = self._loop
        name, literal = self.name, self.literal
        # No match starts after the last occurrence of the literal (-1: none).
        last = data.rfind(literal) if literal else size
        while position <= last:
            spans = match(anchor, data, position, size)
            match_start = spans[0][0]
            if match_start < 0:
                return found
            start, end = spans[group]
            if validate is not None:
                span = validate(data, start, end)
                if span is None:
                    position = match_start + 1
                    continue
                start, end = span
            if start == end:
                position = match_start + 1
                continue
            replacement = replace(data[start:end])
            if replacement is None:
                position = match_start + 1
                continue
            found.append((start, end, name, replacement, ()))
            position = end if end > match_start else match_start + 1
        return found

    def shortened(self, data: bytes, start: int, end: int) -> Finding | None:
        """For a ``grouped`` detector: the finding the validator makes of ``start:end``, a
        prefix of one of this detector's findings cut where the next finding begins (a
        phone running on into a card: ``+1200000000 5100 0000 0000 0008``); None if what
        is left is not a finding, or the detector is not ``grouped``."""
        if not self.grouped or self._validate is None:
            return None
        while end > start and data[end - 1] in _TRAILING_SEPARATORS:
            end -= 1  # the blank or "(" before the next finding is not part of the phone
        span = self._validate(data, start, end)
        if span is None or span[0] == span[1] or span[1] > end:
            return None
        start, end = span
        replacement = self._replace(data[start:end])
        if replacement is None:
            return None
        return Finding(start, end, self.name, replacement)


_TRAILING_SEPARATORS = frozenset(b" .-(")
_PHONE_INTERNATIONAL = r"\+[1-9](?:[ .\-]?\(?[0-9]\)?){6,14}"
_PHONE_NATIONAL = "|".join(
    (
        r"\([0-9]{2,5}\)[ .\-]?[0-9]{3,5}[ .\-]?[0-9]{3,4}",  # (415) 555-0123, (11) 91234-5678
        r"0[1-9][0-9]{1,3}[ .\-][0-9]{3,4}[ .\-]?[0-9]{2,4}",  # 020 7946 0958, 07911 123456
        r"[2-9][0-9]{2}[ .\-][2-9][0-9]{2}[ .\-][0-9]{4}",  # 415-555-0123, 415.555.0123
        r"[1-9][0-9] ?9[0-9]{4}[ .\-][0-9]{4}",  # 11 91234-5678
    )
)
_PHONE_NATIONAL_GATE = "|".join(  # the same, blind to which digit is where but a leading 0
    (
        r"\([0-9]{2,5}\)[ .\-]?[0-9]{3,5}[ .\-]?[0-9]{3,4}",
        r"0[0-9]{2,4}[ .\-][0-9]{3,4}[ .\-]?[0-9]{2,4}",
        r"[0-9]{3}[ .\-][0-9]{3}[ .\-][0-9]{4}",
        r"[0-9]{2} ?[0-9]{5}[ .\-][0-9]{4}",
    )
)
_CARD = "|".join(
    (
        r"[0-9]{13,19}",
        r"[0-9]{4}(?: [0-9]{4}){2} [0-9]{1,7}",  # 4111 1111 1111 1111
        r"[0-9]{4}(?:-[0-9]{4}){2}-[0-9]{1,7}",  # 4111-1111-1111-1111
        r"[0-9]{4} [0-9]{6} [0-9]{4,5}",  # Amex / Diners 3782 822463 10005
        r"[0-9]{4}-[0-9]{6}-[0-9]{4,5}",
    )
)
_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b"

BUILTIN_DETECTORS: dict[str, BuiltinDetector] = {
    "private_key_block": BuiltinDetector(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
        r"|[A-Za-z0-9+/=\s]*)",
        "private_key",
        literal=b"-----BEGIN ",
    ),
    "jwt": BuiltinDetector(
        r"eyJ[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]{2,}\.[A-Za-z0-9_\-]*", "jwt", literal=b"eyJ"
    ),
    "bearer_credential": BuiltinDetector(
        r"(?i:bearer)[ \t]+([A-Za-z0-9\-._~+/]+=*)", "credential", check.bearer_token, 1
    ),
    "basic_credential": BuiltinDetector(
        r"(?i:basic)[ \t]+([A-Za-z0-9+/]{6,}={0,2})", "credential", check.basic_credential, 1
    ),
    "stripe_key": BuiltinDetector(
        r"\b(?:(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]{20,})",
        "api_key",
        literal=b"_",
    ),
    "aws_access_key_id": BuiltinDetector(
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
        "api_key",
        literal=b"A",
    ),
    "slack_token": BuiltinDetector(
        r"\b(?:xox[abposr]-[0-9A-Za-z\-]{10,}|xapp-[0-9]-[0-9A-Za-z\-]{10,})",
        "api_key",
        literal=b"-",
    ),
    "meta_access_token": BuiltinDetector(r"\bEAA[A-Za-z0-9]{30,}\b", "api_key", literal=b"EAA"),
    "github_token": BuiltinDetector(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        "api_key",
        literal=b"_",
    ),
    "google_api_key": BuiltinDetector(
        r"\bAIza[0-9A-Za-z_\-]{35}", "api_key", check.standalone, literal=b"AIza"
    ),
    "openai_api_key": BuiltinDetector(
        r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}", "api_key", literal=b"sk-"
    ),
    "whatsapp_id": BuiltinDetector(
        r"\b[0-9]{6,15}@(?:s\.whatsapp\.net|c\.us)\b", "phone", literal=b"@"
    ),
    "email_address": BuiltinDetector(_EMAIL, "email", literal=b"@"),
    "phone_international": BuiltinDetector(
        _PHONE_INTERNATIONAL,
        "phone",
        check.international_phone,
        protect=True,
        grouped=True,
        literal=b"+",
        gate=r"\+[0-9](?:[ .\-]?\(?[0-9]\)?){6,14}",
    ),
    "payment_card": BuiltinDetector(_CARD, "card", check.payment_card, protect=True),
    "phone_national": BuiltinDetector(
        _PHONE_NATIONAL,
        "phone",
        check.national_phone,
        protect=True,
        grouped=True,
        gate=_PHONE_NATIONAL_GATE,
    ),
    "ip_address": BuiltinDetector(
        r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}",
        "ip",
        check.ipv4_address,
        protect=True,
        literal=b".",
    ),
}
"""Built-in detectors by name, in priority order (an earlier one wins a tie)."""

SENSITIVE_PAIR = "sensitive_pair"
"""Name of the key/value-pair detector (``password=...``, ``"phone": "..."`` in text)."""

BUILTIN_NAMES = frozenset(BUILTIN_DETECTORS) | {SENSITIVE_PAIR}
"""Every name the ``detectors`` setting may use."""
