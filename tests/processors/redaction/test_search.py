"""The fast RE2 front gives the same spans as the ``re2`` module's public API."""

from __future__ import annotations

import pytest

from max_otel.processors.redaction._search import Searcher

pytestmark = pytest.mark.unit

CASES = [
    (r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]+)", b"auth: Bearer abc.def-123 and bearer x", 0),
    (r"[0-9]{4}", b"ref 12 3456 7890", 9),
    (r"zzz", b"nothing here", 0),
    (r"\bEAA[A-Za-z0-9]{3,}\b", b"xEAAabc EAAdef", 0),
]


@pytest.mark.parametrize(("pattern", "data", "position"), CASES)
def test_fast_and_public_paths_agree(pattern: str, data: bytes, position: int) -> None:
    fast = Searcher(pattern)
    public = Searcher(pattern, fast=False)
    assert fast.search(data, position) == public.search(data, position)


def test_search_reports_groups_and_misses() -> None:
    searcher = Searcher(r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]+)")
    assert searcher.search(b"x Bearer abc") == [(2, 12), (9, 12)]
    assert searcher.search(b"x Bearer abc", 3) is None
