"""The engine's shortcuts give the results of the long way round: the shared scan of an
attribute map, the key-decision cache, the pseudonym caches and the pre-filter of many
chunks."""

from __future__ import annotations

import array
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction import DROP, PseudonymKey, Redactor, load_rules
from max_otel.processors.redaction._detectors import BUILTIN_DETECTORS
from max_otel.processors.redaction._pseudonym import Pseudonymiser
from max_otel.processors.redaction._replacements import Replacements
from max_otel.processors.redaction._scanner import PiiScanner
from max_otel.processors.redaction._search import Searcher
from max_otel.processors.redaction._url import URL_IN_TEXT

pytestmark = pytest.mark.unit

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FRAGMENTS = [
    "+14155550123", "ana@example.com", "4111 1111 1111 1111", "Bearer abc123def456",
    "password=hunter2", "'phone': '+14155550123'", "https://ana:pw@host/x?sig=1",
    "/customers/%2B14155550123", "SELECT * FROM t WHERE a = 'x'", "phone:k1:0123456789abcdef",
    "***", "<5 chars>", "REDACTED", "5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00", "1.2.3", "x", " ",
    "é", "{", '{"email": "a@b.io"}', "[1, 2]", "status=201", "token", "\n",
]  # fmt: skip
TEXT = st.lists(st.sampled_from(FRAGMENTS), max_size=5).map("".join)
KEYS = st.sampled_from(
    ["note", "max.note", "exception.message", "url.full", "db.statement", "password",
     "message.body", "phone", "wa_id", "conversation_id", "customer_id", "session_id", "nested"]
)  # fmt: skip
VALUES = st.one_of(
    TEXT.filter(lambda text: not text[:1].isspace()),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(TEXT, max_size=2),
    st.dictionaries(KEYS, TEXT, max_size=2),
)


@SETTINGS
@given(attributes=st.dictionaries(KEYS, VALUES, max_size=8))
def test_attribute_map_gives_what_redact_value_gives_for_each_item(
    redactor: Redactor, attributes: dict[str, object]
) -> None:
    """(Values starting with white space are left out: a map sends those to the detectors
    as they are, where ``redact_value`` first tries them as JSON.)"""
    map_hits: Counter[str] = Counter()
    item_hits: Counter[str] = Counter()
    expected = {}
    for key, value in attributes.items():
        result = redactor.redact_value(key, value, item_hits)
        if result is not DROP:
            expected[key] = result
    assert redactor.redact_attributes(attributes, map_hits) == expected
    assert map_hits == item_hits


def test_json_text_with_leading_space_is_still_parsed_by_redact_value(
    redactor: Redactor, key: PseudonymKey
) -> None:
    out = redactor.redact_value("max.note", ' {"phone": "+14155550123"}', Counter())
    pseudonym = key.pseudonymise("phone", "+14155550123")
    assert out == f'{{"phone": "{pseudonym}"}}'


@pytest.mark.parametrize(
    "value", ["***", "?", "REDACTED", "<12 chars>", "phone:k1:0123456789abcdef"]
)
def test_values_that_already_are_redactions_are_left_alone(redactor: Redactor, value: str) -> None:
    hits: Counter[str] = Counter()
    assert redactor.redact_value("password", value, hits) == value
    assert redactor.redact_text(f"password={value}", hits) == f"password={value}"
    assert not hits


@pytest.mark.parametrize("value", ["a:b", "<12 chars", "**", "phone:k1:0123"])
def test_values_that_only_look_like_redactions_are_redacted(redactor: Redactor, value: str) -> None:
    assert redactor.redact_value("password", value, Counter()) == "***"


def test_detector_pseudonyms_stay_right_when_the_cache_is_full(key: PseudonymKey) -> None:
    """More distinct phones than the bounded cache holds: every one still gets its own
    keyed pseudonym."""
    replace = Replacements(load_rules(), key).replacer("pseudonymise", "phone")
    for number in range(14155550000, 14155570000, 7):
        text = f"+{number}"
        assert replace(text.encode()) == key.pseudonymise("phone", text).encode()


@settings(max_examples=300, deadline=None)
@given(
    secret=st.binary(min_size=32, max_size=200),
    kind=st.sampled_from(["phone", "email", "ip", "user", "name", "x_1"]),
    value=st.text(max_size=40),
)
def test_fast_pseudonymiser_gives_the_keys_pseudonyms(secret: bytes, kind: str, value: str) -> None:
    """Any secret (also one longer than a SHA-256 block), kind and value."""
    key = PseudonymKey(secret, "k9")
    assert Pseudonymiser(key)(kind, value) == key.pseudonymise(kind, value)


def test_fast_pseudonymiser_rejects_what_the_key_rejects(key: PseudonymKey) -> None:
    with pytest.raises(ValueError, match="pseudonym kind must match"):
        Pseudonymiser(key)("Phone", "+14155550123")


def _scanner() -> PiiScanner:
    rules = load_rules()
    detectors = [spec.pattern for name, spec in BUILTIN_DETECTORS.items() if name != "ip_address"]
    return PiiScanner(detectors, [rule.pattern for rule in rules.sensitive_keys], URL_IN_TEXT)


SCANNER = _scanner()
PIECES = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([fragment.encode() for fragment in FRAGMENTS] + [b"Email", b"PHONE"]),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(pieces=PIECES)
def test_located_pieces_are_exactly_those_where_a_match_starts(pieces: list[bytes]) -> None:
    """Against a brute-force reference: a piece is reported iff a possible match starts
    inside it (with its trailing separator) in the value half or in the key half."""
    data = b"\0".join(pieces)
    buffer = PiiScanner.buffer(data)
    middle = len(data) + 1
    expected = set()
    position = 0
    for index, piece in enumerate(pieces):
        for offset in (position, middle + position):
            end = offset + len(piece)
            for start in range(offset, end + 1):
                if SCANNER.first_hit(buffer, start) == start:
                    expected.add(index)
        position += len(piece) + 1
    assert SCANNER.locate(data, [len(piece) for piece in pieces]) == sorted(expected)


def test_many_chunks_of_every_kind_are_checked_like_single_ones(redactor: Redactor) -> None:
    wide = memoryview(array.array("I", [0x41414141] * 4))  # 4-byte items: 16 bytes, len 4
    chunks: list[bytes | bytearray | memoryview | str] = [
        b"plain",
        bytearray(b"mail ana@example.com"),
        "call +14155550123",
        memoryview(b"xx password"),
        wide,
        memoryview(b"x+14155550123")[1:],
    ]
    expected = [index for index, chunk in enumerate(chunks) if redactor.might_contain_pii(chunk)]
    assert expected == [1, 2, 3, 5]
    assert redactor.might_contain_pii_many(chunks) == expected


@pytest.mark.parametrize(
    ("pattern", "data", "position"),
    [
        (r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]+)", b"auth: Bearer abc.def-123 and bearer x", 0),
        (r"[0-9]{4}", b"ref 12 3456 7890", 9),
        (r"zzz", b"nothing here", 0),
    ],
)
def test_raw_match_of_fast_and_public_searchers_agree(
    pattern: str, data: bytes, position: int
) -> None:
    fast, public = Searcher(pattern), Searcher(pattern, fast=False)
    expected = fast.match(fast.anchor, data, position, len(data))
    assert public.match(public.anchor, data, position, len(data)) == expected
    assert (fast.search(data, position) or [(-1, -1)]) == expected


@dataclass(frozen=True)
class MaskingKey(PseudonymKey):
    """A key whose pseudonyms are the mask text (as a process without a key uses)."""

    def pseudonymise(self, kind: str, value: str) -> str:
        return "***"


def test_a_key_subclass_that_overrides_pseudonymise_is_honoured() -> None:
    redactor = Redactor(load_rules(), MaskingKey(b"0123456789abcdef0123456789abcdef", "m"))
    hits: Counter[str] = Counter()
    assert redactor.redact_attributes({"phone": "+14155550123"}, hits) == {"phone": "***"}
    assert redactor.redact_text("call +14155550123", hits) == "call ***"
