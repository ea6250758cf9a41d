"""Property tests: nothing a detector finds survives, everything else is unchanged,
redaction is idempotent, pseudonyms are stable per key, and the pre-filter never says
"clean" about something the redactor would change."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from max_otel.processors.redaction import PseudonymKey, Redactor

pytestmark = pytest.mark.unit

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Words that cannot form a keyword with their neighbours (no b, e, p, r, s: no "bearer",
# "basic", "select", "password"...; no digits, no upper case, no ':' or '=').
SAFE_WORD = st.text(alphabet="acdfghijklmnoqtuvwxyz", min_size=1, max_size=8)
SEPARATOR = st.sampled_from([" ", ", ", "; ", "\n", " | ", " (", ") "])
DIGIT = st.sampled_from("0123456789")


def _luhn_complete(prefix: str) -> str:
    total = 0
    for index, char in enumerate(reversed(prefix)):
        value = int(char)
        if index % 2 == 0:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return prefix + str((10 - total % 10) % 10)


@st.composite
def phone(draw: st.DrawFn) -> tuple[str, str, str]:
    country = draw(st.sampled_from(["1", "44", "55", "49", "33", "351"]))
    first = draw(st.sampled_from("23456789"))
    rest = "".join(draw(st.lists(DIGIT, min_size=8, max_size=9)))
    digits = first + rest
    style = draw(st.sampled_from(["plain", "spaced", "dashed"]))
    if style == "plain":
        text = f"+{country}{digits}"
    elif style == "spaced":
        text = f"+{country} {digits[:3]} {digits[3:6]} {digits[6:]}"
    else:
        text = f"+{country}-{digits[:3]}-{digits[3:]}"
    return text, "phone", "pseudonymise"


@st.composite
def email(draw: st.DrawFn) -> tuple[str, str, str]:
    local = draw(st.text(alphabet="abcxyz0189._+", min_size=1, max_size=10))
    local = "a" + local.strip(".") if not local[0].isalnum() else local
    domain = draw(st.text(alphabet="abcdefghijklmnop", min_size=2, max_size=10))
    tld = draw(st.sampled_from(["com", "io", "co.uk", "com.br"]))
    return f"{local}@{domain}.{tld}", "email", "pseudonymise"


@st.composite
def card(draw: st.DrawFn) -> tuple[str, str, str]:
    prefix = draw(st.sampled_from(["4", "51", "37", "6011"]))
    length = 15 if prefix == "37" else 16
    body = "".join(
        draw(st.lists(DIGIT, min_size=length - 1 - len(prefix), max_size=length - 1 - len(prefix)))
    )
    number = _luhn_complete(prefix + body)
    if length == 16 and draw(st.booleans()):
        number = " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number, "card", "mask"


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def secret(draw: st.DrawFn) -> tuple[str, str, str]:
    def chars(alphabet: str, size: int) -> str:
        return "".join(draw(st.lists(st.sampled_from(alphabet), min_size=size, max_size=size)))

    upper_digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    shapes = [
        "eyJ" + chars(B64URL, 12) + ".eyJ" + chars(B64URL, 20) + "." + chars(B64URL, 22),
        "AKIA" + chars(upper_digits, 16),
        "ghp_" + chars(alnum, 36),
        "sk_live_" + chars(alnum, 24),
        "xoxb-" + chars("0123456789", 12) + "-" + chars(alnum, 16),
    ]
    return draw(st.sampled_from(shapes)), "secret", "mask"


PII = st.one_of(phone(), email(), card(), secret())


@st.composite
def text_with_pii(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str, str] | None]]:
    """Alternating safe words / PII items, joined by separators; None marks safe text."""
    parts: list[str] = []
    items: list[tuple[str, str, str] | None] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        if draw(st.booleans()):
            item = draw(PII)
            parts.append(item[0])
            items.append(item)
        else:
            words = draw(st.lists(SAFE_WORD, min_size=1, max_size=4))
            parts.append(" ".join(words))
            items.append(None)
        parts.append(draw(SEPARATOR))
        items.append(None)
    return parts, items


def expected_output(
    key: PseudonymKey, parts: list[str], items: list[tuple[str, str, str] | None]
) -> str:
    out = []
    for part, item in zip(parts, items, strict=True):
        if item is None:
            out.append(part)
        elif item[2] == "pseudonymise":
            out.append(key.pseudonymise(item[1], item[0]))
        else:
            out.append("***")
    return "".join(out)


@PROPERTY_SETTINGS
@given(sample=text_with_pii())
def test_pii_is_replaced_and_everything_else_is_unchanged(
    redactor: Redactor, key: PseudonymKey, sample: tuple[list[str], list]
) -> None:
    parts, items = sample
    text = "".join(parts)
    hits: Counter[str] = Counter()
    out = redactor.redact_text(text, hits)
    assert out == expected_output(key, parts, items)
    assert sum(hits.values()) == sum(1 for item in items if item is not None)


@PROPERTY_SETTINGS
@given(sample=text_with_pii())
def test_no_detector_match_survives(redactor: Redactor, sample: tuple[list[str], list]) -> None:
    out = redactor.redact_text("".join(sample[0]), Counter())
    assert redactor.find_pii(out) == []


@PROPERTY_SETTINGS
@given(text=st.one_of(st.builds("".join, text_with_pii().map(lambda s: s[0])), st.text()))
def test_redaction_is_idempotent(redactor: Redactor, text: str) -> None:
    once = redactor.redact_text(text, Counter())
    hits: Counter[str] = Counter()
    assert redactor.redact_text(once, hits) == once
    assert not hits


@PROPERTY_SETTINGS
@given(
    attributes=st.dictionaries(
        st.sampled_from(
            [
                "phone",
                "email",
                "body",
                "password",
                "url.full",
                "db.statement",
                "exception.message",
                "max.note",
                "conversation_id",
                "wa_id",
            ]
        ),
        st.one_of(st.text(max_size=40), st.integers(), PII.map(lambda item: item[0])),
        max_size=8,
    )
)
def test_attribute_redaction_is_idempotent(
    redactor: Redactor, attributes: dict[str, object]
) -> None:
    once = redactor.redact_attributes(attributes, Counter())
    hits: Counter[str] = Counter()
    assert redactor.redact_attributes(once, hits) == once
    assert not hits


@PROPERTY_SETTINGS
@given(text=st.one_of(st.text(), st.builds("".join, text_with_pii().map(lambda s: s[0]))))
def test_prefilter_says_clean_only_when_redaction_changes_nothing(
    redactor: Redactor, text: str
) -> None:
    if not redactor.might_contain_pii(text):
        assert redactor.redact_text(text, Counter()) == text
        assert redactor.redact_value("max.note", text, Counter()) == text
        assert not redactor.might_contain_pii(text.encode())


@PROPERTY_SETTINGS
@given(item=PII)
def test_prefilter_sees_pii_in_raw_bytes_after_any_byte(redactor: Redactor, item: tuple) -> None:
    for prefix in (b"", b"1", b"a", b"\x12", b"+", b"_"):
        assert redactor.might_contain_pii(prefix + item[0].encode() + b"\x12")


@PROPERTY_SETTINGS
@given(value=st.text(min_size=1, max_size=30))
def test_pseudonyms_are_stable_per_key_and_differ_across_keys(value: str) -> None:
    first = PseudonymKey(b"first-secret-0123456789abcdefghijkl", "k1")
    again = PseudonymKey(b"first-secret-0123456789abcdefghijkl", "k1")
    other = PseudonymKey(b"other-secret-0123456789abcdefghijkl", "k1")
    assert first.pseudonymise("user", value) == again.pseudonymise("user", value)
    assert first.pseudonymise("user", value) != other.pseudonymise("user", value)
