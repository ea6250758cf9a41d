"""SQL scrubbing: string and numeric literals become ``?``; the statement shape stays.

Applied to ``db.statement`` / ``db.query.text`` and to text that looks like SQL (starts
with SELECT/INSERT/UPDATE/DELETE/UPSERT/MERGE and has FROM/INTO/SET/VALUES/WHERE).
Placeholders (``?``, ``$1``, ``%s``, ``%(name)s``, ``:name``), identifiers (plain or
quoted), comments and pseudonyms already made are kept; an unterminated string literal
(a truncated statement) is replaced up to the end. One RE2 tokenising pass, linear in the
statement, preceded by one RE2 search that skips it for statements that cannot hold a
literal (parameterised ones: ``WHERE id = %(id_1)s LIMIT %(param_1)s``).

    SELECT * FROM contacts WHERE phone = '+14155550123' LIMIT 10
    SELECT * FROM contacts WHERE phone = ? LIMIT ?
"""

from __future__ import annotations

from collections import Counter

import re2

from max_otel.processors.redaction._pseudonym import PSEUDONYM_PATTERN
from max_otel.processors.redaction._search import Searcher

SQL_LITERAL = "sql_literal"

_TOKEN = Searcher(
    "|".join(
        (
            rf"(--[^\n]*|/\*[\s\S]*?\*/|{PSEUDONYM_PATTERN})",  # 1 comment, pseudonym: kept
            r"((?:[EeNnBbXxUu]&?)?'(?:[^']|'')*'?|\$\$[\s\S]*?\$\$)",  # 2 string: ?
            r"(\"(?:[^\"]|\"\")*\"?|`[^`]*`?)",  # 3 quoted identifier: kept
            r"(\$[0-9]+|%\([A-Za-z_][A-Za-z0-9_]*\)s|%s|[:@][A-Za-z_][A-Za-z0-9_]*|\?)",  # 4
            r"([A-Za-z_][A-Za-z0-9_$]*)",  # 5 identifier or keyword: kept
            r"(0[xX][0-9A-Fa-f]+|[0-9]+(?:\.[0-9]*)?(?:[eE][+\-]?[0-9]+)?"
            r"|\.[0-9]+(?:[eE][+\-]?[0-9]+)?)",  # 6 number: ?
        )
    )
)
_SQL_LOOKING = re2.compile(
    r"(?is)\A\s*(?:select|insert|update|delete|upsert|merge)\s.*?\b(?:from|into|set|values|where)\b"
)


def looks_like_sql(data: bytes) -> bool:
    """True when ``data`` starts like a DML statement and has a FROM/INTO/SET/VALUES/WHERE."""
    return _SQL_LOOKING.search(data) is not None


def _latin1() -> re2.Options:
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1  # one byte, one character
    return options


_MAY_HOLD_LITERAL = Searcher(
    "|".join(
        (
            r"'|\$\$",  # a string literal needs one of these
            # A number token starts with a digit (or "." and a digit). The byte before it is
            # not a letter, digit, "_" or "$" (those would have started another token that
            # runs on over the digit), unless it ends a token that stops before a digit:
            r"\A\.?[0-9]|[^A-Za-z0-9_$][0-9]",
            rf"(?:%s|\)s|{PSEUDONYM_PATTERN})[0-9]",  # %s, %(name)s, a pseudonym
        )
    ).encode("ascii"),  # a Latin-1 pattern is given as bytes
    _latin1(),
)
"""False positives are fine (the tokeniser decides); a statement it misses must have no
literal: ``tests/processors/redaction/test_sql_prefilter.py`` checks that on random SQL."""


def scrub_sql(data: bytes, hits: Counter[str]) -> bytes:
    """``data`` (UTF-8 SQL) with every string and numeric literal replaced by ``?``."""
    if _MAY_HOLD_LITERAL.search(data) is None:
        return data
    return replace_literals(data, hits)


def replace_literals(data: bytes, hits: Counter[str]) -> bytes:
    """``scrub_sql`` without the quick check: the tokenising pass itself."""
    out = bytearray()
    position = 0
    replaced = 0
    match, anchor, size = _TOKEN.match, _TOKEN.anchor, len(data)
    while position < size:
        spans = match(anchor, data, position, size)
        start, end = spans[0]
        if start < 0:
            break
        if spans[2][0] >= 0 or spans[6][0] >= 0:
            out += data[position:start]
            out += b"?"
            position = end
            replaced += 1
        else:
            out += data[position:end]
            position = end
    if not replaced:
        return data
    out += data[position:]
    hits[SQL_LITERAL] = hits.get(SQL_LITERAL, 0) + replaced
    return bytes(out)
