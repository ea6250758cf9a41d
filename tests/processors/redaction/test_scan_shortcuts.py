"""The shortcuts of the text path give what the long way gives: the scan's digit-blind
gates, the detectors' literals, the protected-span hint, the scan without keys for text
holding no ``:`` or ``=``, and pseudonyms computed from the matched bytes."""

from __future__ import annotations

from collections import Counter

import pytest
import re2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules, rules_from_mapping
from max_otel.processors.redaction._detectors import BUILTIN_DETECTORS
from max_otel.processors.redaction._pseudonym import Pseudonymiser
from max_otel.processors.redaction._text import protected_spans

pytestmark = pytest.mark.unit

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FRAGMENTS = [
    "+14155550123", "+44 7700 900123", "+1 (415) 555-0123", "(415) 555-0123", "020 7946 0958",
    "07911 123456", "415-555-0123", "415.555.0123", "11 91234-5678", "+55 11 91234-5678",
    "ana@example.com", "alex.morgan12@example.com", "14155550123@s.whatsapp.net", "123456@c.us",
    "4111 1111 1111 1111", "378282246310005", "192.168.1.10", "1.2.3", "AKIAABCDEFGHIJKLMNOP",
    "sk_live_0123456789abcdef", "whsec_0123456789abcdefghijABCD", "xoxb-0123456789-abcdef",
    "xapp-1-ABCDEFGHIJK", "EAA" + "a" * 31, "ghp_" + "a" * 36, "github_pat_" + "b" * 22,
    "AIza" + "c" * 35, "sk-" + "d" * 20, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "-----BEGIN PRIVATE KEY-----abc", "phone:k1:0123456789abcdef", "00f067aa0ba902b7",
    "5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00", "2024-01-02T10:11:12+01:00", "ABCDEF0123456789",
    "SELECT id FROM t WHERE a = 1", "https://u:p@x.example/a?sig=1", "password=hunter2",
]  # fmt: skip
TEXT = st.lists(
    st.one_of(
        st.sampled_from(FRAGMENTS),
        st.text(alphabet="0123456789 .-()+@_:=aAeEsSx", max_size=16),
        st.sampled_from([" ", ", ", "\n", "é", "(", ")"]),
    ),
    max_size=6,
).map("".join)


@SETTINGS
@given(text=TEXT)
def test_each_gate_matches_wherever_its_detector_does(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    for name, spec in BUILTIN_DETECTORS.items():
        if spec.gate and re2.search(spec.pattern, data) is not None:
            assert re2.search(spec.gate, data) is not None, name


@SETTINGS
@given(text=TEXT)
def test_every_match_of_a_detector_holds_its_literal(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    for name, spec in BUILTIN_DETECTORS.items():
        if spec.literal:
            for match in re2.finditer(spec.pattern, data):
                for start in range(match.start() + 1, match.end()):  # every later match too
                    later = re2.compile(spec.pattern).search(data, start)
                    assert later is None or spec.literal in later.group(), name
                assert spec.literal in match.group(), name


@SETTINGS
@given(text=TEXT)
def test_scan_says_protected_wherever_a_protected_span_is(redactor: Redactor, text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    if protected_spans(data):
        assert redactor._scanner.scan(data).protected
        assert redactor._scanner.scan(data, keys=False).protected


@SETTINGS
@given(text=TEXT.map(lambda text: text.replace(":", " ").replace("=", " ")))
def test_scan_without_keys_flags_every_detector_that_finds_something(
    redactor: Redactor, text: str
) -> None:
    """(Text without ``:`` or ``=``, the only text scanned without keys.)"""
    data = text.encode("utf-8", "surrogatepass")
    full, values = redactor._scanner.scan(data), redactor._scanner.scan(data, keys=False)
    for index, detector in enumerate(redactor._text._detectors):
        if detector.find(data):
            assert index in values.detectors, detector.name
    assert values.sql == full.sql
    assert not values.url and not full.url


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["phone", "email", "ip", "user", "name", "x_1"]),
    value=st.one_of(
        st.text(max_size=30),
        st.text(alphabet=" \t\x0b\x1c\x85\xa0+()-.0123456789AaZz@é", max_size=30),
    ),
)
def test_pseudonyms_from_matched_bytes_are_the_keys_pseudonyms(kind: str, value: str) -> None:
    """Any text, as a detector would match it: ASCII or not, blanks around, no digits."""
    key = PseudonymKey(b"test-secret-for-pseudonyms-0123456789", "k1")
    from_bytes = Pseudonymiser(key).for_kind(kind)
    expected = key.pseudonymise(kind, value).encode()
    assert from_bytes(value.encode("utf-8", "surrogatepass")) == expected


def test_a_match_that_is_the_mask_text_is_left_alone(key: PseudonymKey) -> None:
    """A detector match that already is a redaction (here a mask text that looks like a
    phone) is neither replaced nor counted."""
    redactor = Redactor(rules_from_mapping({"mask_text": "+1 000 000 0000"}), key)
    hits: Counter[str] = Counter()
    text = "card 4111 1111 1111 1111, phone +1 000 000 0000"
    assert redactor.redact_text(text, hits) == "card +1 000 000 0000, phone +1 000 000 0000"
    assert hits == Counter({"payment_card": 1})


@pytest.mark.parametrize(
    "text",
    [
        "delivery failed for customer +44 7700 900123 (contact alex.morgan12@example.com)",
        "retry 3 of call 0207 946 0958 on 2024-01-02 for 5f0c6b1e-8d7a-4c5e-9b1f-3a2d4c6e8f00",
        "lookup ana@example.com for 0123456789abcdef +14155550123 deadbeefcafebabe",
    ],
)
def test_text_without_a_colon_or_equals_sign_is_redacted_as_with_one(
    redactor: Redactor, text: str
) -> None:
    """The scan without keys (no ``:`` or ``=`` in the text) finds what the full scan
    finds: the same text followed by a harmless ``=`` is redacted alike."""
    hits: Counter[str] = Counter()
    hits_with: Counter[str] = Counter()
    assert redactor.redact_text(text, hits) + " =" == redactor.redact_text(text + " =", hits_with)
    assert hits == hits_with
    assert hits


def test_rules_without_the_pair_detector_still_scrub_urls(key: PseudonymKey) -> None:
    rules = rules_from_mapping({"detectors": {"sensitive_pair": "disabled"}}, base=load_rules())
    out = Redactor(rules, key).redact_text("GET https://u:p@x.example/a?sig=1", Counter())
    assert out == "GET https://REDACTED:REDACTED@x.example/a?sig=REDACTED"
