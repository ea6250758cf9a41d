"""Free-text scrubbing: run the detectors the scan pointed at, resolve overlaps, replace.

``TextScrubber.findings(data)`` is the heart of the engine:

1. ``PiiScanner.scan`` (one RE2 ``Set`` pass; without the key patterns for a text with no
   ``:`` or ``=``, which can hold no key/value pair and no URL) says which detectors may
   match; nothing -> the text is returned untouched;
2. those detectors (plus the key/value-pair and URL detectors when the scan saw a
   sensitive key, an ``@`` or an escape) yield candidate ``Finding`` s;
3. candidates of the detectors that can match digits inside other tokens (phones, cards,
   IPs, custom detectors) and of the pair detector are dropped when they lie inside a
   *protected* span: pseudonyms already made, UUIDs, 16/32-hex trace and span ids (with a
   letter), ISO-8601 dates and timestamps (looked for only when the scan saw a hint of one,
   ``PROTECTED_HINT``);
4. overlaps are resolved: the earliest, then longest, then highest-priority finding wins
   (pairs, then URLs, then detectors in catalogue order); one that sticks out of the winner
   is merged into it and the union is masked, so no fragment of a secret survives; except
   that a phone whose trailing digit groups run into the next finding (a card in
   ``+1200000000 5100 0000 0000 0008``) is cut back before it when what is left is still a
   phone, and both are redacted on their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from max_otel.processors.redaction._detectors import (
    Detector,
    Finding,
    PlainFinding,
    RegexDetector,
)
from max_otel.processors.redaction._pseudonym import PSEUDONYM_PATTERN
from max_otel.processors.redaction._scanner import PiiScanner, ScanResult
from max_otel.processors.redaction._search import Searcher
from max_otel.processors.redaction._sql import looks_like_sql, scrub_sql

PROTECTED_PATTERN = "|".join(
    (
        PSEUDONYM_PATTERN,
        r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?"
        r"(?:Z|[+\-][0-9]{2}:?[0-9]{2})?)?",
        r"[0-9a-f]{32}|[0-9a-f]{16}",
    )
)
"""Pseudonyms, UUIDs, timestamps and 16/32-hex ids: see ``protected_spans``."""
_PROTECTED = Searcher(PROTECTED_PATTERN)
PROTECTED_HINT = "|".join(
    (
        r"[0-9a-f]{16}",  # the tail of a pseudonym, a 16/32-hex id
        r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-",  # the head of a UUID
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}",  # a date
    )
)
"""Found (``PiiScanner``'s ``protected_hint``) in every text in which ``_PROTECTED`` is."""
OVERLAP = "overlap"
"""Hit name of two claims that overlapped and were masked together."""
_HEX_LETTERS = frozenset(b"abcdef")
_WORD = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_COLON, _EQUALS = ord(":"), ord("=")
"""Bytes as ints for ``in``: ``b":" in data`` costs an exception inside (CPython 3.11)."""


def protected_spans(data: bytes) -> list[tuple[int, int]]:
    """Spans that no detector may redact *inside*: pseudonyms, UUIDs, ids, timestamps."""
    spans: list[tuple[int, int]] = []
    position = 0
    match, anchor, size = _PROTECTED.match, _PROTECTED.anchor, len(data)
    while True:
        start, end = match(anchor, data, position, size)[0]
        if start < 0:
            return spans
        position = end if end > start else start + 1
        chunk = data[start:end]
        if len(chunk) in (16, 32) and chunk.isalnum():
            glued = (start > 0 and data[start - 1] in _WORD) or (
                end < len(data) and data[end] in _WORD
            )
            if glued or not _HEX_LETTERS.intersection(chunk):
                continue
        spans.append((start, end))


def _is_pseudonym(data: bytes, span: tuple[int, int]) -> bool:
    """A protected span that is a pseudonym (``kind:key:hex``), not an id or a timestamp."""
    start, end = span
    return data[start : start + 1].isalpha() and _COLON in data[start:end]


class TextScrubber:
    """``scrub(text, hits)``: ``text`` with every finding replaced; see module docstring."""

    def __init__(
        self,
        scanner: PiiScanner,
        detectors: Sequence[RegexDetector],
        structural: Sequence[Detector],
        url: Detector | None,
        mask_text: str,
        plain: Callable[[str, Counter[str]], str | None] | None = None,
    ) -> None:
        self._plain = plain
        self._scanner = scanner
        self._detectors = tuple(detectors)
        self._structural = tuple(structural)
        self._url = url
        self._mask = mask_text.encode("utf-8")

    def scrub(self, text: str, hits: Counter[str]) -> str:
        """``scrub_bytes`` of the UTF-8 ``text``; ``text`` itself when nothing was found.

        The common case, in which the scan saw only detectors (no key, URL, SQL or
        protected span), runs here in one piece: the detectors' findings are replaced
        as they are when none overlaps another (always, when one detector found all).
        ``plain``, if given, runs that case first in one call (see ``_compiled_text``); it
        answers None, having done nothing, for any other text."""
        plain = self._plain
        if plain is not None:
            compiled = plain(text, hits)
            if compiled is not None:
                return compiled
        data = text.encode("utf-8", "surrogatepass")
        scan = self._scanner.scan(data, _COLON in data or _EQUALS in data)  # _scan, inline
        indices, keys, url, sql, maybe_protected = scan
        if not (indices or keys or sql):  # not scan.anything, without the property
            return text
        if keys or url or sql or maybe_protected:
            scrubbed = self._scrub_scanned(data, scan, hits)
            return text if scrubbed is data else scrubbed.decode("utf-8", "surrogatepass")
        detectors = self._detectors
        found: Sequence[PlainFinding]
        if len(indices) == 1:
            found = detectors[indices[0]].find_plain(data)  # in order, none overlapping
        else:
            joined: list[PlainFinding] = []
            for index in indices:
                joined += detectors[index].find_plain(data)
            joined.sort()  # by start; further fields only on a tie, which is no fast case
            found = joined
            last_end = 0
            for finding in joined:  # none overlaps the next (none is empty)?
                if finding[0] < last_end:
                    found = self._resolve(data, scan)
                    break
                last_end = finding[1]
        scrubbed = self._apply(data, found, hits)
        return text if scrubbed is data else scrubbed.decode("utf-8", "surrogatepass")

    def scrub_bytes(self, data: bytes, hits: Counter[str]) -> bytes:
        """``data`` itself when nothing was found, else the scrubbed copy."""
        scan = self._scanner.scan(data, _COLON in data or _EQUALS in data)  # _scan, inline
        return self._scrub_scanned(data, scan, hits)

    def _scrub_scanned(self, data: bytes, scan: ScanResult, hits: Counter[str]) -> bytes:
        if not (scan[0] or scan[1] or scan[3]):  # not scan.anything, without the property
            return data
        if scan.sql and looks_like_sql(data):
            return self.scrub_sql_bytes(data, hits)
        return self._apply(data, self._resolve(data, scan), hits)

    def scrub_sql_bytes(self, data: bytes, hits: Counter[str]) -> bytes:
        """SQL literals -> ``?``, then the detectors (not the key/value-pair detector:
        ``phone = ?`` is a column and a placeholder, not a value to redact)."""
        current = scrub_sql(data, hits)
        scan = self._scan(current)
        if not scan.anything:
            return current
        return self._apply(current, self._resolve(current, scan, pairs=False), hits)

    def _scan(self, data: bytes) -> ScanResult:
        """The scanner's ``scan``, without keys and URLs when ``data`` has no ``:`` or
        ``=``: the pair detectors' key/value pairs and URLs (``://``) need one, and nothing
        else here looks at what the keys (and triggers) say."""
        return self._scanner.scan(data, _COLON in data or _EQUALS in data)

    def _apply(self, current: bytes, findings: Sequence[PlainFinding], hits: Counter[str]) -> bytes:
        pieces: list[bytes] = []
        position = 0
        for start, end, rule, replacement, extra in findings:
            if len(replacement) == end - start and replacement == current[start:end]:
                continue  # a claim (lengths compared first: most replacements differ)
            pieces.append(current[position:start])
            pieces.append(replacement)
            position = end
            if rule:
                hits[rule] = hits.get(rule, 0) + 1  # no __missing__ call
            if extra:
                for name, count in extra:
                    hits[name] = hits.get(name, 0) + count
        if not pieces:
            return current
        pieces.append(current[position:])
        return b"".join(pieces)

    def findings(self, data: bytes) -> list[Finding]:
        """The resolved findings that would change ``data`` (SQL literals not included)."""
        chosen = self._resolve(data, self._scan(data))
        return [f for f in chosen if f.replacement != data[f.start : f.end]]

    def _resolve(self, data: bytes, scan: ScanResult, pairs: bool = True) -> list[Finding]:
        indices, keys, url, _, maybe_protected = scan
        candidates: list[tuple[int, int, int, Finding]] = []
        add = candidates.append
        if keys and pairs:
            for priority, structural in enumerate(self._structural):
                for f in structural.find(data):
                    add((f[0], -f[1], priority, f))
        protect = bool(candidates)
        if url and self._url is not None:
            for f in self._url.find(data):
                add((f[0], -f[1], 50, f))
        detectors = self._detectors
        for index in indices:
            detector = detectors[index]
            found = detector.find(data)
            if found:
                if detector.protect:
                    protect = True
                priority = 100 + index
                for f in found:
                    add((f[0], -f[1], priority, f))
        if not candidates:
            return []
        if protect and maybe_protected:
            protected = protected_spans(data)
            if protected:
                # The value of a sensitive key is redacted even when it looks like an id or a
                # date (a 16-hex token, a UUID session id); only pseudonyms stay protected.
                pseudonyms = [s for s in protected if _is_pseudonym(data, s)]
                candidates = [
                    c
                    for c in candidates
                    if not _inside(c[3], pseudonyms if c[2] < 50 else protected)
                ]
        if len(candidates) < 2:
            return [c[3] for c in candidates]
        candidates.sort()  # by start, then longest, then priority: never by the finding,
        # since one detector (one priority) never makes two findings at the same start
        chosen: list[Finding] = []
        last_end = -1  # of chosen[-1]
        last_priority = -1  # of chosen[-1]; -1 after a merge
        for _, _, priority, finding in candidates:
            start, end = finding[0], finding[1]
            if start < last_end:  # overlaps chosen[-1]
                if end > last_end:
                    last = chosen[-1]
                    shortened = self._shortened(data, last, last_priority, start)
                    if shortened is not None:
                        chosen[-1] = shortened
                        chosen.append(finding)
                        last_priority = priority
                    else:
                        rule = last.rule or finding.rule or OVERLAP
                        chosen[-1] = Finding(last.start, end, rule, self._mask)
                        last_priority = -1
                    last_end = end
                continue
            chosen.append(finding)
            last_end = end
            last_priority = priority
        return chosen

    def _shortened(self, data: bytes, last: Finding, priority: int, end: int) -> Finding | None:
        """``last`` (found by the detector of ``priority``) cut back to end by ``end``,
        if it is a phone and what is left is still one."""
        index = priority - 100
        if 0 <= index < len(self._detectors):
            return self._detectors[index].shortened(data, last.start, end)
        return None


def _inside(finding: Finding, spans: list[tuple[int, int]]) -> bool:
    return any(start <= finding.start and finding.end <= end for start, end in spans)
