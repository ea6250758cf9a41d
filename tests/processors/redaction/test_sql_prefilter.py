"""The SQL scrubber's quick check skips only statements in which the tokeniser would
replace nothing: with and without it, every statement comes out the same."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction._sql import replace_literals, scrub_sql

pytestmark = pytest.mark.unit

# Pieces that start, end or continue SQL tokens, glued in any order.
PIECES = st.sampled_from(
    [
        "SELECT", "x", "t1", "_a", "a$", "E", "e", "0", "7", "12", "0x1F", ".", "5", "+", "-",
        " ", "\n", "'", "''", '"', "`", "$", "$$", "$1", "%s", "%(id_1)s", ")s", "(", ")",
        ":name", "::", "@p", "?", "--", "/*", "*/", "=", ",", "phone:k1:0123456789abcdef",
        "é", "\u4e2d", "\ud800",
    ]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(PIECES, max_size=12))
def test_quick_check_never_changes_the_result(pieces: list[str]) -> None:
    data = "".join(pieces).encode("utf-8", "surrogatepass")
    quick: Counter[str] = Counter()
    full: Counter[str] = Counter()
    assert scrub_sql(data, quick) == replace_literals(data, full)
    assert quick == full


@pytest.mark.parametrize(
    "statement",
    [
        b"SELECT c.id FROM conversations c WHERE c.id = %(id_1)s::UUID LIMIT %(param_1)s",
        b"UPDATE contacts SET phone = $1 WHERE id = $2",
        b"SELECT * FROM t1 WHERE a = :name AND b = ?",
    ],
)
def test_parameterised_statement_comes_back_as_the_same_object(statement: bytes) -> None:
    hits: Counter[str] = Counter()
    assert scrub_sql(statement, hits) is statement
    assert not hits


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (b"SELECT * FROM t WHERE a = %s1", b"SELECT * FROM t WHERE a = %s?"),
        (b"SELECT 1", b"SELECT ?"),
        (b"SELECT phone:k1:0123456789abcdef7", b"SELECT phone:k1:0123456789abcdef?"),
        (b"SELECT .5", b"SELECT ?"),
    ],
)  # fmt: skip
def test_numbers_right_after_a_token_are_still_replaced(statement: bytes, expected: bytes) -> None:
    assert scrub_sql(statement, Counter()) == expected
