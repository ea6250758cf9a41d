"""The compiled text case (``max_otel_native.PlainScrubber``) gives the pure-Python engine's
results, to the byte and the hit, and the RE2 patterns it runs are translated faithfully."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction import (
    PseudonymKey,
    RedactionRules,
    Redactor,
    load_rules,
    rules_from_mapping,
)
from max_otel.processors.redaction._compiled_text import compiled_plain_scrubber
from max_otel.processors.redaction._search import Searcher
from max_otel.processors.redaction.native_syntax import regex_crate_pattern

pytestmark = pytest.mark.unit

KEY = PseudonymKey(b"test-secret-for-pseudonyms-0123456789", "k1")
COMPILED = Redactor(load_rules(), KEY)
PYTHON = Redactor(load_rules(), KEY, compiled_text=False)

FRAGMENTS = [
    "+44 7900 900123", "+1 (415) 555-0123", "020 7946 0958", "415-555-0123", "(11) 91234-5678",
    "ana.m@example.com", "4111 1111 1111 1111", "5100-0000-0000-0008", "378282246310005",
    "eyJhbGciOi.eyJzdWIi.sig", "Bearer abc123def456", "basic dXNlcjpwYXNz",
    "ba\u017fic dXNlcjpwYXNz",  # a long s: RE2 folds it to s under (?i)
    "sk_live_0123456789abcdef", "AKIA0123456789ABCDEF", "xoxb-0123456789-abc", "10.0.0.1",
    "1.2.3.4.5", "12@c.us", "5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00", "2026-11-29T09:00:00Z",
    "0123456789abcdef", "phone:k1:0123456789abcdef", "card:k1:4111111111111111", "***",
    "password", " phone ", ":", "=",
    "https://ana:pw@host/x", "/a@", "%2B", "SELECT * FROM t WHERE a = 1", "select", " from ",
    "delivery failed for customer ", "(contact ", "), will retry", "é", "\u00a0", "\u2003",
    "\x0b", "K", "_", "-", ".", "(", ")", " ", "\n", "0", "7", "x", "\ud800",
]  # fmt: skip
TEXTS = st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join)


def _both(text: str) -> tuple[tuple[str, Counter[str]], tuple[str, Counter[str]]]:
    compiled_hits: Counter[str] = Counter()
    python_hits: Counter[str] = Counter()
    compiled = COMPILED.redact_text(text, compiled_hits)
    python = PYTHON.redact_text(text, python_hits)
    return (compiled, compiled_hits), (python, python_hits)


def test_the_compiled_case_is_there_and_taken() -> None:
    """Without this the differential test below would compare the Python path with itself."""
    scrub = COMPILED._text._plain
    assert scrub is not None, "max_otel_native is not installed: run scripts/setup"
    hits: Counter[str] = Counter()
    text = "delivery failed for customer +44 7900 900123 (contact ana.m@example.com), will retry"
    scrubbed = scrub(text, hits)
    assert scrubbed is not None
    assert "+44" not in scrubbed and "ana.m" not in scrubbed
    assert hits == Counter({"phone_international": 1, "email_address": 1})
    assert scrub("password: hunter2", Counter()) is None  # a key: the general path's
    with_ids = "order 5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00 at 2026-11-29T09:00:00Z: +44 7900 900123"
    assert scrub(with_ids, Counter()) == PYTHON.redact_text(with_ids, Counter())  # compiled too


@settings(max_examples=600, deadline=None)
@given(text=TEXTS)
def test_compiled_text_gives_the_python_result_and_hits(text: str) -> None:
    compiled, python = _both(text)
    assert compiled == python


@settings(max_examples=800, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("+0123456789 .-()@%abcé:=/\u00a0_xK"), max_size=40))
def test_compiled_text_agrees_on_digit_and_punctuation_soup(text: str) -> None:
    compiled, python = _both(text)
    assert compiled == python


@pytest.mark.parametrize(
    "text",
    ["card:k1:4111111111111111", "x card:k1:4111111111111111 and 4111 1111 1111 1111"],
)
def test_nothing_is_redacted_inside_a_pseudonym(text: str) -> None:
    """A pseudonym is a protected span: the card number in its hex tail stays."""
    compiled, python = _both(text)
    assert compiled == python
    assert "card:k1:4111111111111111" in compiled[0]


@pytest.mark.parametrize(
    "text",
    [
        "020 7946 0958.5", "1.020 7946 0958", "+1 415 555 0123 415-555-0123",
        "(415) 555-0123)", "((415) 555-0123", "+44 (0) 20 7946 0958", "+44 7900 900123_x",
        "+44 7900 900123@x", "+44 7900 900123%", "call 415.555.0123.", "10.415-555-0123",
        "+1 (415) 555 0123 0@x.io", "x+44 7900 900123", "+123456789012345678",
    ],
)  # fmt: skip
def test_phone_validators_agree_at_their_edges(text: str) -> None:
    """The compiled copies of the phone validators (``validators.rs``) at the edges of the
    Python ones: glued bytes, parentheses, dotted numbers, a phone after a phone."""
    compiled, python = _both(text)
    assert compiled == python


def test_unchanged_text_comes_back_as_the_same_object() -> None:
    text = "nothing to see " * 3
    assert COMPILED.redact_text(text, Counter()) is text


@pytest.mark.parametrize(
    ("pattern", "texts"),
    [
        (r"REF[\s-\d]{6,}", ["see REF 12-3456 now", 'see REF !"#$%& now']),
        (r"(?i)x[^\W]y", ["xky", "xKy", "x\u212ay", "x-y"]),
        (r"(?i)x[\W]+y", ["xky", "xsy", "x\u017fy", "x--y"]),
        (r"\<secret\>", ["a <secret> b", "a secret b"]),
        (r"x\pLy", ["x\ua7dcy", "xay"]),
    ],
)
def test_custom_patterns_where_re2_and_the_crate_read_alike_only_once_translated(
    pattern: str, texts: list[str]
) -> None:
    """A class then ``-`` in brackets, a negated class under ``(?i)``, ``\\<``, and
    ``\\p`` (refused: the libraries' Unicode tables differ)."""
    rules = rules_from_mapping(
        {"custom_detectors": [{"name": "probe", "pattern": pattern, "action": "mask"}]}
    )
    _assert_both_paths_agree(rules, texts)


def test_custom_detectors_run_compiled_or_fall_back_with_the_same_result() -> None:
    rules = rules_from_mapping(
        {
            "custom_detectors": [
                {"name": "order_ref", "pattern": r"\bORD-\d{6}\b", "action": "mask"},
                {"name": "quoted", "pattern": r"\Qa.b\E", "action": "mask"},
            ]
        }
    )
    _assert_both_paths_agree(
        rules, ["see ORD-123456 now", "xORD-123456", "ORD-12345é", "a.b and ORD-654321"]
    )


def _assert_both_paths_agree(rules: RedactionRules, texts: list[str]) -> None:
    compiled = Redactor(rules, KEY)
    python = Redactor(rules, KEY, compiled_text=False)
    for text in texts:
        compiled_hits: Counter[str] = Counter()
        python_hits: Counter[str] = Counter()
        assert compiled.redact_text(text, compiled_hits) == python.redact_text(text, python_hits)
        assert compiled_hits == python_hits


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bkey\s*=", r"(?-u:\b)key[\t\n\f\r ]*="),
        (r"[^/?#\s@\x00]*@", r"[^/?#[\t\n\f\r ]@\x00]*@"),
        (r"[\s\S]*?END", r"[[\t\n\f\r ][^\t\n\f\r ]]*?END"),
        (r"[[:alpha:]\d]+", r"[[:alpha:][0-9]]+"),
        (r"[\s-\d]", r"[[\t\n\f\r ]\-[0-9]]"),
        (r"\<b\>\/", r"<b>/"),
        (r"\x41\x{42}\t", r"\x41\x{42}\t"),
        (r"\pL", None),
        (r"\G", None),
        (r"[]a[]", r"[\]a\[]"),
        (r"(?i:bearer)[ \t]+", r"(?i:bearer)[ \t]+"),
        (r"\Qa.b\E", r"a\.b"),
        (r"\Q(x)\E", r"\(x\)"),
        (r"\C", None),
        (r"[a&&b]", None),
        (r"[abc", None),
    ],
)
def test_patterns_are_translated_or_refused(pattern: str, expected: str | None) -> None:
    assert regex_crate_pattern(pattern) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab_ 1\t\n\x0b\x0c\r\u00a0\u2003é9-"), max_size=12))
def test_translated_perl_classes_and_boundaries_match_what_re2_matches(text: str) -> None:
    """Each translated pattern alone, as a one-detector scrubber, against RE2 directly."""
    for pattern in (r"\s+", r"\S+", r"\d+", r"\D+", r"\w+", r"\W+", r"\bab\b", r"\Bb", r"[\s\d]+"):
        assert _compiled_spans(pattern, text) == _re2_spans(pattern, text), pattern


def _re2_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    """The non-overlapping matches of ``pattern`` in the UTF-8 ``text``, as the engine's
    RE2 searcher finds them."""
    searcher, data, spans, position = Searcher(pattern), text.encode(), [], 0
    while position <= len(data):
        found = searcher.search(data, position)
        if found is None:
            return spans
        start, end = found[0]
        spans.append((start, end))
        position = end if end > start else start + 1
    return spans


def _compiled_spans(pattern: str, text: str) -> list[tuple[int, int]]:
    """The spans one compiled detector of ``pattern`` replaces in ``text``."""
    from max_otel.processors.redaction._detectors import RegexDetector
    from max_otel.processors.redaction._scanner import PiiScanner

    detector = RegexDetector("probe", pattern, lambda match: b"<" + match + b">")
    scanner = PiiScanner([pattern], [], r"://", protected_hint="\x00\x01")
    scrubber = compiled_plain_scrubber(scanner, [detector])
    assert scrubber is not None
    out = scrubber.scrub(text, Counter())
    assert out is not None
    # Recover the spans from the marked output: each replacement is "<" + match + ">".
    data, result, position = text.encode(), out.encode(), 0
    found: list[tuple[int, int]] = []
    offset = 0
    while True:
        start = result.find(b"<", position)
        if start < 0:
            return found
        end = result.find(b">", start)
        match_start = start - offset
        found.append((match_start, match_start + (end - start - 1)))
        offset += 2
        position = end + 1
        assert data[match_start : match_start + (end - start - 1)] == result[start + 1 : end]
