"""One multi-pattern RE2 pass that says what a text could contain: the cheap first stage.

``PiiScanner.scan(data)`` runs one RE2 ``Set`` search for the value patterns (every enabled
detector plus a few *triggers*) over the bytes as they are, and the key patterns (every
sensitive-key rule, the sensitive URL query parameters and the SQL keys) over the bytes
*normalised* like keys (ASCII lower case, ``-``, ``.``, space -> ``_``): both halves are
scanned as one buffer. Only when something matched does the engine run the individual
detectors.

Patterns are *relaxed* first (``relax``): anchors and word boundaries are removed, and for
key patterns ``$`` becomes "end of text, a byte that cannot continue a key, or blanks then
``:`` / ``=``" (``first_name = Ana``), because in a larger text a key is not at the start or
end. Removing an assertion only lets a pattern match more, so the scan never misses what the
strict patterns and validators would find.

Triggers, beside the detectors: ``/...@`` (URL credentials, also JSON-escaped), ``%XX``
and ``\\uXXXX`` escapes (URL and JSON encodings that could hide PII from the raw scan), and
an SQL statement's leading and body keywords.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

import re2

from max_otel.processors.redaction._search import Searcher

_KEY_END = r"(?:$|[^a-z0-9_.\- ]|_[_\t]*[:=])"
r"""What may follow a key in the normalised half (where "-", "." and space became "_"):
the end, a byte that cannot continue a key, or blanks before a ``:`` / ``=`` separator
(``first_name = Ana`` reads ``first_name_=_ana``; a tab is already a non-key byte). The
blank run is unbounded like the pair detector's ``[ \t]*``: RE2 stays linear."""
KEY_BYTES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ-. ", b"abcdefghijklmnopqrstuvwxyz___")
"""``bytes.translate`` table doing ``normalise_key`` on raw bytes."""

SQL_START = r"(?i:select|insert|update|delete|upsert|merge)\s"
SQL_BODY = r"(?i:from|into|set|values|where)\s"
_TRIGGERS = (r"/[^/?#\s@\x00]*@", r"%[0-9A-Fa-f]{2}", r"\\u[0-9A-Fa-f]{4}")


def relax(pattern: str, *, key: bool = False) -> str:
    """``pattern`` without ``^``, ``\\A``, ``\\b``, ``\\B``; ``$`` and ``\\z`` removed, or
    for key patterns turned into ``_KEY_END``: the end, a byte that cannot continue a
    normalised key, or blanks (normalised ``_``, tabs) then ``:`` / ``=``."""
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


class ScanResult(NamedTuple):
    """What the scan saw: indices of detectors that may match (increasing), whether the
    pair detector (sensitive key in the text), a URL and SQL keywords were seen."""

    detectors: tuple[int, ...]
    keys: bool  # a sensitive key name or a trigger: run the pair and URL detectors
    url: bool
    sql: bool

    @property
    def anything(self) -> bool:
        return bool(self.detectors) or self.keys or self.sql


NOTHING = ScanResult((), False, False, False)
"""The scan of a text in which no pattern matched."""

_DETECTOR, _STRUCTURE, _SQL_START, _SQL_BODY, _URL = range(5)


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
        for pattern in (*_TRIGGERS, *keys):
            self._set.Add(pattern)
        self._set.Add(SQL_START)
        self._set.Add(SQL_BODY)
        self._set.Add(url_pattern)
        self._set.Compile()
        # what each index of the set stands for, in the order added above
        self._kinds = (
            [_DETECTOR] * len(relaxed)
            + [_STRUCTURE] * (len(_TRIGGERS) + len(keys))
            + [_SQL_START, _SQL_BODY, _URL]
        )
        raw = getattr(self._set, "_set", None)  # skip the wrapper when it is there
        self._match = raw.Match if raw is not None and hasattr(raw, "Match") else self._set.Match
        self.value_patterns: tuple[str, ...] = (*relaxed, *_TRIGGERS, SQL_START)
        """The relaxed patterns meant for the first half of the scan buffer (the text)."""
        self.key_patterns: tuple[str, ...] = tuple(keys)
        """The relaxed patterns meant for the second half (the text normalised like keys)."""
        self._any = _alternation([*relaxed, *_TRIGGERS, *keys, SQL_START], _options())

    @staticmethod
    def buffer(data: bytes) -> bytes:
        """The scan buffer of ``data`` (see the class docstring)."""
        return data + b"\0" + data.translate(KEY_BYTES)

    def scan(self, data: bytes) -> ScanResult:
        """What ``data`` (UTF-8 text or any bytes) may contain."""
        matched = self._match(data + b"\0" + data.translate(KEY_BYTES))
        if not matched:
            return NOTHING
        kinds = self._kinds
        detectors: list[int] = []
        structure = sql_start = sql_body = url = False
        for index in matched:
            kind = kinds[index]
            if kind == _DETECTOR:
                detectors.append(index)
            elif kind == _STRUCTURE:
                structure = True
            elif kind == _SQL_START:
                sql_start = True
            elif kind == _SQL_BODY:
                sql_body = True
            else:
                url = True
        detectors.sort()
        return ScanResult(tuple(detectors), structure, url, sql_start and sql_body)

    def first_hit(self, buffer: bytes, position: int = 0) -> int:
        """Start of the first possible match in the scan ``buffer`` at or after
        ``position``, -1 if none. ``scan(x).anything`` implies ``first_hit(buffer(x)) >= 0``."""
        spans = self._any.search(buffer, position)
        return -1 if spans is None else spans[0][0]

    def locate_texts(self, texts: Sequence[str]) -> list[int]:
        """``locate`` for text: the indices of ``texts`` in which the scan finds something
        (their UTF-8 bytes joined by ``\\0``)."""
        joined = "\0".join(texts)
        if joined.isascii():
            return self.locate(joined.encode("ascii"), list(map(len, texts)))
        encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
        return self.locate(b"\0".join(encoded), list(map(len, encoded)))

    def locate(self, data: bytes, lengths: Sequence[int]) -> list[int]:
        """Indices, in increasing order, of the ``\\0``-joined pieces of ``data`` (of
        ``lengths``) in which a possible match starts, in either half of the scan buffer.

        One search per piece found, plus one or two: after a hit the search jumps to the
        next piece, and in the key half to the next piece not found yet (a buffer in which
        every piece is found in the first half is not searched any further).
        """
        count = len(lengths)
        match, anchor = self._any.match, self._any.anchor
        buffer = data + b"\0" + data.translate(KEY_BYTES)
        size = len(buffer)
        hit = match(anchor, buffer, 0, size)[0][0]
        if hit < 0 or not count:
            return []
        starts = []
        position = 0
        for length in lengths:
            starts.append(position)
            position += length + 1
        found = [False] * count
        last = count - 1
        middle = len(data) + 1
        while hit < middle:  # the value half: every piece in turn
            index = min(bisect_right(starts, hit) - 1, last)
            found[index] = True
            if index < last:
                position = starts[index + 1]
            elif all(found):
                return list(range(count))
            else:
                position = middle + starts[found.index(False)]
            hit = match(anchor, buffer, position, size)[0][0]
            if hit < 0:
                return [index for index, seen in enumerate(found) if seen]
        following = 0
        while True:  # the key half: only the pieces not found yet
            index = min(bisect_right(starts, hit - middle) - 1, last)
            found[index] = True
            following = max(following, index + 1)
            while following < count and found[following]:
                following += 1
            if following == count:
                break
            hit = match(anchor, buffer, middle + starts[following], size)[0][0]
            if hit < 0:
                break
        return [index for index, seen in enumerate(found) if seen]

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
