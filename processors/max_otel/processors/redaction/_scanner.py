"""One multi-pattern RE2 pass that says what a text could contain: the cheap first stage.

``PiiScanner.scan(data)`` runs one RE2 ``Set`` search for the value patterns (every enabled
detector plus a few *triggers*) over the bytes as they are, and the key patterns (every
sensitive-key rule, the sensitive URL query parameters and the SQL keys) over the bytes
*normalised* like keys (ASCII lower case, ``-``, ``.``, space -> ``_``): both halves are
scanned as one buffer. Only when something matched does the engine run the individual
detectors.

Patterns are *relaxed* first (``relax``): anchors and word boundaries are removed, and for
key patterns ``$`` becomes "end of text or a byte that cannot continue a key", because in
a larger text a key is not at the start or end. Removing an assertion only lets a pattern
match more, so the scan never misses what the strict patterns and validators would find.

Triggers, beside the detectors: ``/...@`` (URL credentials, also JSON-escaped), ``%XX``
and ``\\uXXXX`` escapes (URL and JSON encodings that could hide PII from the raw scan), and
an SQL statement's leading and body keywords.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import re2
from max_otel.processors.redaction._search import Searcher

_KEY_END = r"(?:$|[^a-z0-9_.\- ])"  # "-", "." and space normalise to "_"
KEY_BYTES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ-. ", b"abcdefghijklmnopqrstuvwxyz___")
"""``bytes.translate`` table doing ``normalise_key`` on raw bytes."""

SQL_START = r"(?i:select|insert|update|delete|upsert|merge)\s"
SQL_BODY = r"(?i:from|into|set|values|where)\s"
_TRIGGERS = (r"/[^/?#\s@\x00]*@", r"%[0-9A-Fa-f]{2}", r"\\u[0-9A-Fa-f]{4}")


def relax(pattern: str, *, key: bool = False) -> str:
    """``pattern`` without ``^``, ``\\A``, ``\\b``, ``\\B``; ``$`` and ``\\z`` removed, or
    for key patterns turned into "end or a byte outside [a-z0-9_]"."""
    end = _KEY_END if key else ""
    out: list[str] = []
    index, size, in_class = 0, len(pattern), False
    while index < size:
        char = pattern[index]
        if char == "\\" and index + 1 < size:
            following = pattern[index + 1]
            if following == "Q":
                close = pattern.find("\\E", index + 2)
                close = size if close < 0 else close + 2
                out.append(pattern[index:close])
                index = close
                continue
            if not in_class and following in "bBA":
                index += 2
                continue
            if not in_class and following == "z":
                out.append(end)
                index += 2
                continue
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", index):
                close = pattern.find(":]", index + 2)
                close = size if close < 0 else close + 2
                out.append(pattern[index:close])
                index = close
                continue
            if char == "]":
                in_class = False
            out.append(char)
            index += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            index += 1
            if pattern.startswith("^", index):
                out.append("^")
                index += 1
            if pattern.startswith("]", index):
                out.append("]")
                index += 1
            continue
        if char == "^":
            index += 1
            continue
        if char == "$":
            out.append(end)
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What the scan saw: indices of detectors that may match, whether the pair detector
    (sensitive key in the text), a URL and SQL keywords were seen."""

    detectors: frozenset[int]
    keys: bool  # a sensitive key name or a trigger: run the pair and URL detectors
    url: bool
    sql: bool

    @property
    def anything(self) -> bool:
        return bool(self.detectors) or self.keys or self.sql


class PiiScanner:
    """Compiled once: an RE2 ``Set`` (which patterns may match) and an RE2 alternation of
    the same relaxed patterns (where the first possible match starts), both run over the
    *scan buffer* ``data + b"\\0" + data.translate(KEY_BYTES)``: value patterns are meant
    for the first half, key patterns (case-insensitive) for the second; a pattern matching
    in the other half, or across the middle, only makes the scan say "maybe" more often."""

    def __init__(
        self,
        detector_patterns: Sequence[str],
        key_patterns: Sequence[str],
        url_pattern: str,
    ) -> None:
        relaxed = [relax(pattern) for pattern in detector_patterns]
        keys = [f"(?i:{relax(pattern, key=True)})" for pattern in key_patterns]
        self._set = re2.Set.SearchSet(_options())
        for pattern in relaxed:
            self._set.Add(pattern)
        self._trigger = len(relaxed)
        for pattern in (*_TRIGGERS, *keys):
            self._set.Add(pattern)
        self._sql_start = self._set.Add(SQL_START)
        self._sql_body = self._set.Add(SQL_BODY)
        self._url = self._set.Add(url_pattern)
        self._set.Compile()
        self._any = _alternation([*relaxed, *_TRIGGERS, *keys, SQL_START], _options())

    @staticmethod
    def buffer(data: bytes) -> bytes:
        """The scan buffer of ``data`` (see the class docstring)."""
        return data + b"\0" + data.translate(KEY_BYTES)

    def scan(self, data: bytes) -> ScanResult:
        """What ``data`` (UTF-8 text or any bytes) may contain."""
        matched = self._set.Match(data + b"\0" + data.translate(KEY_BYTES)) or ()
        trigger, sql_start = self._trigger, self._sql_start
        detectors = frozenset(index for index in matched if index < trigger)
        structure = any(trigger <= index < sql_start for index in matched)
        sql = sql_start in matched and self._sql_body in matched
        return ScanResult(detectors, structure, self._url in matched, sql)

    def first_hit(self, buffer: bytes, position: int = 0) -> int:
        """Start of the first possible match in the scan ``buffer`` at or after
        ``position``, -1 if none. ``scan(x).anything`` implies ``first_hit(buffer(x)) >= 0``."""
        spans = self._any.search(buffer, position)
        return -1 if spans is None else spans[0][0]

    def might_match(self, data: bytes) -> bool:
        """False only if no detector, trigger, key pattern or SQL keyword can be in data."""
        return self._any.search(data + b"\0" + data.translate(KEY_BYTES)) is not None


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = _MAX_MEM
    return options


def _alternation(patterns: Sequence[str], options: re2.Options) -> Searcher:
    options.never_capture = True
    return Searcher("|".join(f"(?:{pattern})" for pattern in patterns), options)


_MAX_MEM = 64 << 20
"""RE2 memory budget per compiled pattern or set: large enough that the DFA never runs out
on long inputs (a set whose DFA fails would report no match)."""
