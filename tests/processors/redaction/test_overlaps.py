"""Findings that overlap: a phone whose digit groups run on into the next finding is cut
back before it; any other overlap is masked as one."""

from __future__ import annotations

from collections import Counter

import pytest

from max_otel.processors.redaction import PseudonymKey, Redactor

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "phone", "rest"),
    [
        ("+1200000000 5100 0000 0000 0008 ", "+1200000000", " *** "),
        ("call +14155550123 4111 1111 1111 1111 now", "+14155550123", " *** now"),
        ("+1 415 555 0123 4111 1111 1111 1111", "+1 415 555 0123", " ***"),
    ],
)
def test_phone_followed_by_a_grouped_card_is_pseudonymised_and_the_card_masked(
    redactor: Redactor, key: PseudonymKey, text: str, phone: str, rest: str
) -> None:
    hits: Counter[str] = Counter()
    out = redactor.redact_text(text, hits)
    prefix = text[: text.index(phone)]
    assert out == prefix + key.pseudonymise("phone", phone) + rest
    assert hits == Counter({"phone_international": 1, "payment_card": 1})


@pytest.mark.parametrize(
    ("text", "first", "second", "between", "after"),
    [
        ("+1 415 555 0123 415-555-0123", "+1 415 555 0123", "415-555-0123", " ", ""),
        ("to +1 415 555 0123 415-555-0123 ok", "+1 415 555 0123", "415-555-0123", " ", " ok"),
        ("+44 20 7946 0958 (415) 555-0123", "+44 20 7946 0958", "(415) 555-0123", " ", ""),
    ],
)
def test_international_phone_followed_by_a_national_phone_redacts_both(
    redactor: Redactor,
    key: PseudonymKey,
    text: str,
    first: str,
    second: str,
    between: str,
    after: str,
) -> None:
    """No 7-digit fragment (``-555-0123``) of the second number may survive."""
    hits: Counter[str] = Counter()
    out = redactor.redact_text(text, hits)
    prefix = text[: text.index(first)]
    expected = (
        prefix
        + key.pseudonymise("phone", first)
        + between
        + key.pseudonymise("phone", second)
        + after
    )
    assert out == expected
    assert hits == Counter({"phone_international": 1, "phone_national": 1})


@pytest.mark.parametrize("text", ["123 456 789 0123", "v1 415-555-0123x", "1.415.555.0123"])
def test_digit_groups_not_after_an_international_phone_stay_as_before(
    redactor: Redactor, text: str
) -> None:
    assert redactor.redact_text(text, Counter()) == text


def test_phone_too_short_to_cut_back_is_masked_with_the_card(redactor: Redactor) -> None:
    """``+1200000`` alone has too few digits to be a phone: phone and card are one span."""
    hits: Counter[str] = Counter()
    out = redactor.redact_text("ref +1200000 4111 1111 1111 1111 end", hits)
    assert out == "ref *** end"
    assert sum(hits.values()) == 1
