"""One multi-pattern RE2 pass that says what a text could contain: the cheap first stage.

``PiiScanner.scan(data)`` runs one RE2 ``Set`` search for the value patterns (every enabled
detector plus a few *triggers*) over the bytes as they are, and the key patterns (every
sensitive-key rule, the sensitive URL query parameters and the SQL keys) over the bytes
*normalised* like keys (ASCII lower case, ``-``, ``.``, space -> ``_``): both halves are
scanned as one buffer. Only when something matched does the engine run the individual
detectors.

Patterns are *relaxed* first (``_relax``: anchors and word boundaries removed), because in a
larger text a key is not at the start or end; a relaxed pattern only matches more, so the
scan never misses what the strict patterns and validators would find.

Triggers, beside the detectors: ``/...@`` (URL credentials, also JSON-escaped), ``%XX``
and ``\\uXXXX`` escapes (URL and JSON encodings that could hide PII from the raw scan), and
an SQL statement's leading and body keywords.

The same pass also says whether the text may hold a *protected* span (an id, a timestamp, a
pseudonym: see ``_text``), so that the engine looks for those only when it may find one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import NamedTuple

import re2

from max_otel.processors.redaction._relax import relax
from max_otel.processors.redaction._search import Searcher

KEY_BYTES = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ-. ", b"abcdefghijklmnopqrstuvwxyz___")
"""``bytes.translate`` table doing ``normalise_key`` on raw bytes."""

SQL_START = r"(?i:select|insert|update|delete|upsert|merge)\s"
SQL_BODY = r"(?i:from|into|set|values|where)\s"
_TRIGGERS = (r"/[^/?#\s@\x00]*@", r"%[0-9A-Fa-f]{2}", r"\\u[0-9A-Fa-f]{4}")


class ScanResult(NamedTuple):
    """What the scan saw: indices of detectors that may match (increasing), whether the
    pair detector (sensitive key in the text), a URL and SQL keywords were seen, and
    whether a protected span may be there (False only if there is none)."""

    detectors: tuple[int, ...]
    keys: bool  # a sensitive key name or a trigger: run the pair detectors
    url: bool
    sql: bool
    protected: bool = True

    @property
    def anything(self) -> bool:
        return bool(self.detectors) or self.keys or self.sql


NOTHING = ScanResult((), False, False, False, False)
"""The scan of a text in which no pattern matched."""

_DETECTOR, _STRUCTURE, _SQL_START, _SQL_BODY, _URL, _PROTECTED = range(6)


class PiiScanner:
    """Compiled once: an RE2 ``Set`` (which patterns may match) and an RE2 alternation of
    the same relaxed patterns (where the first possible match starts), both run over the
    *scan buffer* ``data + b"\\0" + data.translate(KEY_BYTES)``: value patterns are meant
    for the first half, key patterns (case-insensitive) for the second; a pattern matching
    in the other half, or across the middle, only makes the scan say "maybe" more often.
    A second, smaller ``Set`` (no triggers, key patterns or URLs) serves ``scan(data,
    keys=False)`` over ``data`` alone.

    ``gates[i]``, if given, stands for ``detector_patterns[i]`` in the ``Set`` only (see
    ``RegexDetector.gate``: it matches wherever the detector's pattern does, and needs fewer
    DFA states), and in ``value_patterns`` (for compiled pre-filters, whose lazy DFA would
    otherwise build new states for every unseen phone number); the alternation keeps the
    detector's own pattern.
    ``protected_hint``, if given, is a pattern found in every text that holds a protected
    span; without it ``ScanResult.protected`` is always True."""

    def __init__(
        self,
        detector_patterns: Sequence[str],
        key_patterns: Sequence[str],
        url_pattern: str,
        *,
        gates: Sequence[str] | None = None,
        protected_hint: str | None = None,
    ) -> None:
        relaxed = [relax(pattern) for pattern in detector_patterns]
        if gates is not None and len(gates) != len(relaxed):
            raise ValueError(f"gates must be one per detector pattern; got {len(gates)}")
        gated = relaxed if gates is None else [relax(gate) for gate in gates]
        keys = [f"(?i:{relax(pattern, key=True)})" for pattern in key_patterns]
        hint = [] if protected_hint is None else [protected_hint]
        # Two sets; the kinds say what each index of a set stands for, in the order given.
        self.set_patterns: tuple[str, ...] = (
            *gated,
            *_TRIGGERS,
            *keys,
            SQL_START,
            SQL_BODY,
            url_pattern,
            *hint,
        )
        """The ``Set`` of ``scan(data)``, over the scan buffer; ``set_kinds`` says what each
        pattern stands for (0 detector, 1 key or trigger, 2 and 3 SQL, 4 URL, 5 protected)."""
        self._match = _compiled_set(self.set_patterns)
        self.set_kinds: tuple[int, ...] = (
            *[_DETECTOR] * len(gated),
            *[_STRUCTURE] * (len(_TRIGGERS) + len(keys)),
            _SQL_START,
            _SQL_BODY,
            _URL,
            *[_PROTECTED] * len(hint),
        )
        self.value_set_patterns: tuple[str, ...] = (*gated, SQL_START, SQL_BODY, *hint)
        """The ``Set`` of ``scan(data, keys=False)``, over ``data``; kinds in
        ``value_set_kinds``."""
        self._match_values = _compiled_set(self.value_set_patterns)
        self.value_set_kinds: tuple[int, ...] = (
            *[_DETECTOR] * len(gated),
            _SQL_START,
            _SQL_BODY,
            *[_PROTECTED] * len(hint),
        )
        self.always_protected = protected_hint is None
        """True without a hint: then every scan says a protected span may be there."""
        self._results: dict[tuple[int, ...], ScanResult] = {}
        """Indices the set matched -> the scan's result: few sets of indices recur."""
        self._value_results: dict[tuple[int, ...], ScanResult] = {}
        """The same for the scan without keys."""
        self.value_patterns: tuple[str, ...] = (*gated, *_TRIGGERS, SQL_START)
        """The relaxed patterns meant for the first half of the scan buffer (the text)."""
        self.key_patterns: tuple[str, ...] = tuple(keys)
        """The relaxed patterns meant for the second half (the text normalised like keys)."""
        self._any = _alternation([*relaxed, *_TRIGGERS, *keys, SQL_START], _options())

    @staticmethod
    def buffer(data: bytes) -> bytes:
        """The scan buffer of ``data`` (see the class docstring)."""
        return data + b"\0" + data.translate(KEY_BYTES)

    def scan(self, data: bytes, keys: bool = True) -> ScanResult:
        """What ``data`` (UTF-8 text or any bytes) may contain. With ``keys`` False the
        triggers, key patterns and URLs are not looked for (``ScanResult.keys`` and ``url``
        are False) and the other patterns only in ``data`` itself: a smaller scan, for a
        text in which the caller knows those cannot matter."""
        if keys:
            matched = self._match(data + b"\0" + data.translate(KEY_BYTES))
            results = self._results
        else:
            matched = self._match_values(data)
            results = self._value_results
        if not matched:
            return NOTHING
        found = tuple(matched)
        result = results.get(found)
        if result is None:
            result = self._result(found, self.set_kinds if keys else self.value_set_kinds)
            if len(results) >= _RESULTS_CACHED:
                results.clear()
            results[found] = result
        return result

    def _result(self, matched: tuple[int, ...], kinds: tuple[int, ...]) -> ScanResult:
        detectors: list[int] = []
        structure = sql_start = sql_body = url = False
        protected = self.always_protected
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
            elif kind == _URL:
                url = True
            else:
                protected = True
        detectors.sort()
        return _new_tuple(  # ScanResult(...) without its __new__ in Python
            ScanResult, (tuple(detectors), structure, url, sql_start and sql_body, protected)
        )

    def first_hit(self, buffer: bytes, position: int = 0) -> int:
        """Start of the first possible match in the scan ``buffer`` at or after
        ``position``, -1 if none: -1 for ``buffer(x)`` only if no detector, trigger, key
        pattern or SQL keyword can match in ``x``."""
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


_new_tuple = tuple.__new__
_RESULTS_CACHED = 1024


def _compiled_set(patterns: Sequence[str]) -> Callable[[bytes], list[int]]:
    """The ``Match`` of an RE2 ``Set`` of ``patterns`` (the indices of those that match),
    skipping the wrapper when it is there."""
    pattern_set = re2.Set.SearchSet(_options())
    for pattern in patterns:
        pattern_set.Add(pattern)
    pattern_set.Compile()
    raw = getattr(pattern_set, "_set", None)
    return raw.Match if raw is not None and hasattr(raw, "Match") else pattern_set.Match


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
