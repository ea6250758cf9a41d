"""A thin, fast front to RE2 for the engine's hot loops: search bytes, get spans.

The ``re2`` module's ``search`` wraps every call in a generator and a match object, which
costs as much as the scan itself on short attribute values. ``Searcher`` calls the compiled
RE2 object directly when the installed ``google-re2`` exposes it (``_regexp.Match``), and
falls back to the public API otherwise; both paths return the same spans.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

Spans = list[tuple[int, int]]
"""Byte spans of the whole match (index 0) and of each group; (-1, -1) if unset."""


class Searcher:
    """``search(data, position)`` -> spans of the leftmost match at or after ``position``.

    The hottest loops call ``match(anchor, data, position, len(data))`` instead: the RE2
    call itself (or the same through the public API), spans always returned, the first
    ``(-1, -1)`` when nothing matched; ``anchor`` is ``Searcher.anchor``.
    """

    def __init__(
        self, pattern: str | bytes, options: re2.Options | None = None, *, fast: bool = True
    ) -> None:
        self.pattern = pattern
        self.regexp = re2.compile(pattern, options)
        self._groups = self.regexp.groups
        raw = getattr(self.regexp, "_regexp", None)
        anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        self._raw: Callable[[object, bytes, int, int], Spans] | None = None
        self.anchor: object = anchor
        self.match: Callable[[object, bytes, int, int], Spans] = self._public_match
        if fast and raw is not None and anchor is not None and hasattr(raw, "Match"):
            self._raw = raw.Match
            self.match = raw.Match

    def search(self, data: bytes, position: int = 0) -> Spans | None:
        if self._raw is not None:
            spans = self._raw(self.anchor, data, position, len(data))
            return None if spans[0][0] < 0 else spans
        match = self.regexp.search(data, position)
        if match is None:
            return None
        return [match.span(group) for group in range(self._groups + 1)]

    def _public_match(self, anchor: object, data: bytes, position: int, end: int) -> Spans:
        match = self.regexp.search(data, position, end)
        if match is None:
            return [(-1, -1)]
        return [match.span(group) for group in range(self._groups + 1)]
