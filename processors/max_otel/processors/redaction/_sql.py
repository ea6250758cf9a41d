"""SQL scrubbing: string and numeric literals become ``?``; the statement shape stays.

Applied to ``db.statement`` / ``db.query.text`` and to text that looks like SQL (starts
with SELECT/INSERT/UPDATE/DELETE/UPSERT/MERGE and has FROM/INTO/SET/VALUES/WHERE).
Placeholders (``?``, ``$1``, ``%s``, ``%(name)s``, ``:name``), identifiers (plain or
quoted), comments and pseudonyms already made are kept; an unterminated string literal
(a truncated statement) is replaced up to the end. One RE2 tokenising pass, linear in the statement.

    SELECT * FROM contacts WHERE phone = '+14155550123' LIMIT 10
    SELECT * FROM contacts WHERE phone = ? LIMIT ?
"""

from __future__ import annotations

from collections import Counter

import re2
from max_otel.processors.redaction._pseudonym import PSEUDONYM_PATTERN

SQL_LITERAL = "sql_literal"

_TOKEN = re2.compile(
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


def scrub_sql(data: bytes, hits: Counter[str]) -> bytes:
    """``data`` (UTF-8 SQL) with every string and numeric literal replaced by ``?``."""
    out = bytearray()
    position = 0
    replaced = 0
    for match in _TOKEN.finditer(data):
        if match.start(2) < 0 and match.start(6) < 0:
            continue
        out += data[position : match.start()]
        out += b"?"
        position = match.end()
        replaced += 1
    if not replaced:
        return data
    out += data[position:]
    hits[SQL_LITERAL] += replaced
    return bytes(out)
