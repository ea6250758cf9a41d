"""Value detectors on free text: what each one catches, what it must leave alone."""

from __future__ import annotations

from collections import Counter

import pytest

from max_otel.processors.redaction import PseudonymKey, Redactor

pytestmark = pytest.mark.unit


def redact(redactor: Redactor, text: str) -> tuple[str, Counter[str]]:
    hits: Counter[str] = Counter()
    return redactor.redact_text(text, hits), hits


@pytest.mark.parametrize(
    "phone",
    [
        "+14155550123",
        "+1 415 555 0123",
        "+1 (415) 555-0123",
        "+44 20 7946 0958",
        "+55 (11) 91234-5678",
        "+49 30 12345678",
        "+33 1 23 45 67 89",
    ],
)
def test_international_phone_is_pseudonymised(
    redactor: Redactor, key: PseudonymKey, phone: str
) -> None:
    out, hits = redact(redactor, f"customer {phone} wrote")
    assert out == f"customer {key.pseudonymise('phone', phone)} wrote"
    assert hits == Counter({"phone_international": 1})


@pytest.mark.parametrize(
    "phone",
    [
        "(415) 555-0123",
        "415-555-0123",
        "415.555.0123",
        "020 7946 0958",
        "07911 123456",
        "(11) 91234-5678",
        "11 91234-5678",
    ],
)
def test_national_phone_is_pseudonymised(redactor: Redactor, key: PseudonymKey, phone: str) -> None:
    out, hits = redact(redactor, f"call {phone}.")
    assert out == f"call {key.pseudonymise('phone', phone)}."
    assert hits == Counter({"phone_national": 1})


def test_national_and_international_forms_of_a_number_differ_only_by_country_code(
    redactor: Redactor, key: PseudonymKey
) -> None:
    """Digits are what is hashed: +1 415... and 415... differ (no region is guessed)."""
    out, _ = redact(redactor, "415-555-0123")
    assert out == key.pseudonymise("phone", "4155550123")


@pytest.mark.parametrize(
    "text",
    [
        "order ORD-123456789012 shipped",
        "internal id 123456789012",
        "epoch 1717171717 and millis 1717171717123",
        "at 2024-01-15T10:30:45.123Z or 2024-01-15 10:30:45",
        "version 1.2.3 and 10.20.300",
        "from 192.168.100.200 and 10.0.0.1",
        "conversation 123e4567-e89b-12d3-a456-426614174000",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "took 1500 ms, 3 retries, 42.5%",
        "price 1,234,567.89",
        "date 15/01/2024 12:30",
        "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "bearer of bad news and basic information",
        "ratio 3/4 and +5 points",
    ],
)
def test_text_without_pii_is_unchanged(redactor: Redactor, text: str) -> None:
    out, hits = redact(redactor, text)
    assert out == text
    assert not hits


def test_unchanged_text_is_the_same_object(redactor: Redactor) -> None:
    text = "nothing to see here 123"
    assert redactor.redact_text(text, Counter()) is text


@pytest.mark.parametrize(
    "email", ["ana@example.com", "Ana.Silva+max@mail.example.co.uk", "x_y-z@sub.domain.io"]
)
def test_email_is_pseudonymised(redactor: Redactor, key: PseudonymKey, email: str) -> None:
    out, hits = redact(redactor, f"<{email}>")
    assert out == f"<{key.pseudonymise('email', email)}>"
    assert hits == Counter({"email_address": 1})


def test_whatsapp_id_becomes_the_phone_pseudonym(redactor: Redactor, key: PseudonymKey) -> None:
    out, hits = redact(redactor, "from 14155550123@s.whatsapp.net")
    assert out == f"from {key.pseudonymise('phone', '+14155550123')}"
    assert hits == Counter({"whatsapp_id": 1})


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "3782 822463 10005",
        "6011000990139424",
    ],
)
def test_luhn_valid_card_is_masked(redactor: Redactor, card: str) -> None:
    out, hits = redact(redactor, f"card {card} expires")
    assert out == "card *** expires"
    assert hits == Counter({"payment_card": 1})


@pytest.mark.parametrize(
    "number",
    ["4111111111111112", "1717171717123", "9999999999999995", "123456789012"],
)
def test_card_like_number_failing_luhn_or_issuer_is_kept(redactor: Redactor, number: str) -> None:
    assert redact(redactor, f"ref {number}")[0] == f"ref {number}"


def test_card_followed_by_more_digits_in_text_is_still_masked(redactor: Redactor) -> None:
    out, _ = redact(redactor, "card 4111 1111 1111 1111 2024")
    assert out == "card *** 2024"


JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFuYSJ9"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        (f"token {JWT} used", "token *** used", "jwt"),
        ("Authorization: Bearer abc123def456ghi", "Authorization: *** ***", None),
        ("got bearer abc123def456ghi from", "got bearer *** from", "bearer_credential"),
        ("header Basic dXNlcjpwYXNzd29yZA== sent", "header Basic *** sent", "basic_credential"),
        ("key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key ***", "stripe_key"),
        ("key rk_live_4eC39HqLyjWDarjtT1zdp7dc", "key ***", "stripe_key"),
        ("key pk_test_4eC39HqLyjWDarjtT1zdp7dc", "key ***", "stripe_key"),
        ("aws AKIAIOSFODNN7EXAMPLE ok", "aws *** ok", "aws_access_key_id"),
        ("slack xoxb-123456789012-abcdefghijkl", "slack ***", "slack_token"),
        (
            "meta EAAGm0PX4ZCpsBAKZCZAZBZCvZB0ZCkZDZD1234567890abcdef",
            "meta ***",
            "meta_access_token",
        ),
        ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh ***", "github_token"),
        ("gh github_pat_11ABCDEFG0123456789_abcdefghijkl", "gh ***", "github_token"),
        ("g AIzaSyA1234567890abcdefghijklmnopqrstuv", "g ***", "google_api_key"),
        ("o sk-proj-abcdefghijklmnopqrstuvwxyz012345", "o ***", "openai_api_key"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY----- done",
            "*** done",
            "private_key_block",
        ),
    ],
)
def test_secret_is_masked(redactor: Redactor, text: str, expected: str, rule: str | None) -> None:
    out, hits = redact(redactor, text)
    assert out == expected
    if rule is not None:
        assert hits[rule] == 1


def test_api_key_shaped_text_inside_a_word_is_kept(redactor: Redactor) -> None:
    text = "blob xAKIAIOSFODNN7EXAMPLE and base64 QUFBQUFBEAAGm0PX4ZCpsBAKZCZAZBZCvZB0ZCkZDZD1"
    assert redact(redactor, text)[0] == text


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        ("login with password=hunter2 failed", "login with password=*** failed", "password"),
        ('{"api_key": "abc123"} sent', '{"api_key": "***"} sent', "api_key"),
        ("x-api-key: abc123, next", "x-api-key: ***, next", "api_key"),
        ("token='t0k3n' ok", "token='***' ok", "token"),
        ("message_text: 'hello there'", "message_text: '<11 chars>'", "message_content"),
    ],
)
def test_sensitive_key_value_pair_in_text_keeps_the_key(
    redactor: Redactor, text: str, expected: str, rule: str
) -> None:
    out, hits = redact(redactor, text)
    assert out == expected
    assert hits == Counter({rule: 1})


def test_parameters_of_a_database_error_are_redacted(redactor: Redactor, key: PseudonymKey) -> None:
    text = (
        "(psycopg.errors.UniqueViolation) duplicate key [SQL: INSERT INTO messages (phone, body) "
        "VALUES (%(phone)s, %(body)s)] [parameters: {'phone': '4155550123', 'body': 'Hi there'}]"
    )
    out, _ = redact(redactor, text)
    assert out == text.replace("4155550123", key.pseudonymise("phone", "4155550123")).replace(
        "'Hi there'", "'<8 chars>'"
    )


def test_author_is_not_auth(redactor: Redactor) -> None:
    text = "author: Ana, authors: Bo, author_id=7"
    assert redact(redactor, text)[0] == text


def test_pseudonyms_already_made_are_not_redacted_again(redactor: Redactor) -> None:
    text = "phone:k1:0123456789012345 email:k1:9f2c4e1a0b3d5c7e phone=phone:k2:4111111111111111"
    assert redact(redactor, text) == (text, Counter())


def test_ip_address_detector_is_off_by_default(redactor: Redactor) -> None:
    assert redact(redactor, "peer 203.0.113.9")[0] == "peer 203.0.113.9"


@pytest.mark.parametrize(
    "hostile",
    [
        "+1" + " 1" * 20_000 + "x" + "a@" * 20_000 + "1-" * 20_000,
        "password=" * 10_000,
        "bearer " * 10_000,
        "https://" + "a@" * 20_000,
        "xEAA" * 20_000,
        "select * from t where a = '" + "x" * 50_000,
        "_" + "a" * 50_000 + "@",
    ],
    ids=["digits", "pairs", "bearer", "url", "tokens", "sql", "email"],
)
def test_hostile_input_is_scanned_in_linear_time(redactor: Redactor, hostile: str) -> None:
    """Strings built to make backtracking engines explode finish at once with RE2 (a
    quadratic scan of these would take minutes)."""
    out = redactor.redact_text(hostile, Counter())
    assert isinstance(out, str)
