"""Structure-aware scrubbing: URLs, SQL, JSON in strings, nesting, bytes, failure."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter

import pytest

from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ana:hunter2@api.example.com/v1", "https://REDACTED:REDACTED@api.example.com/v1"),
        ("https://ana@api.example.com/v1", "https://REDACTED@api.example.com/v1"),
        (
            "https://s.example.com/f.png?X-Goog-Signature=abc&X-Goog-Date=20240101",
            "https://s.example.com/f.png?X-Goog-Signature=REDACTED&X-Goog-Date=20240101",
        ),
        (
            "https://b.s3.amazonaws.com/o?AWSAccessKeyId=AKIAX&Signature=zz&Expires=1",
            "https://b.s3.amazonaws.com/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
        ),
        ("https://x.example/cb?q=shoes&sig=abc", "https://x.example/cb?q=shoes&sig=REDACTED"),
        (
            "https://x.example/cb?access_token=abc&page=2",
            "https://x.example/cb?access_token=REDACTED&page=2",
        ),
        (
            "https://x.example/cb#access_token=abc&x=1",
            "https://x.example/cb#access_token=REDACTED&x=1",
        ),
        ("postgresql://max:s3cret@db:5432/max", "postgresql://REDACTED:REDACTED@db:5432/max"),
    ],
)
def test_url_credentials_and_sensitive_parameters_are_redacted(
    redactor: Redactor, url: str, expected: str
) -> None:
    assert redactor.redact_value("url.full", url, Counter()) == expected


def test_pii_in_url_path_and_query_is_pseudonymised(redactor: Redactor, key: PseudonymKey) -> None:
    phone = key.pseudonymise("phone", "+14155550123")
    email = key.pseudonymise("email", "ana@example.com")
    hits: Counter[str] = Counter()
    out = redactor.redact_value(
        "url.full",
        "https://api.example.com/customers/+14155550123/messages?email=ana%40example.com&page=2",
        hits,
    )
    assert out == f"https://api.example.com/customers/{phone}/messages?email={email}&page=2"
    assert hits == Counter({"phone_international": 1, "email": 1})


def test_percent_encoded_phone_in_path_is_found(redactor: Redactor, key: PseudonymKey) -> None:
    out = redactor.redact_value("http.target", "/customers/%2B14155550123?x=1", Counter())
    assert out == f"/customers/{key.pseudonymise('phone', '+14155550123')}?x=1"


def test_bare_query_string_is_scrubbed(redactor: Redactor) -> None:
    assert redactor.redact_value("url.query", "token=abc&page=2", Counter()) == (
        "token=REDACTED&page=2"
    )


def test_clean_url_is_returned_as_is(redactor: Redactor) -> None:
    url = "https://api.example.com/v1/conversations/123e4567-e89b-12d3-a456-426614174000?page=2"
    hits: Counter[str] = Counter()
    assert redactor.redact_value("url.full", url, hits) is url
    assert not hits


def test_url_inside_free_text_is_scrubbed(redactor: Redactor) -> None:
    out = redactor.redact_text("GET https://u:p@x.example/a?sig=1 failed", Counter())
    assert out == "GET https://REDACTED:REDACTED@x.example/a?sig=REDACTED failed"


@pytest.mark.parametrize(
    ("part", "encoded"), [("#note-\ud800-", "#note-%ED%A0%80-"), ("?q=\ud800", "?q=%ED%A0%80")]
)
def test_url_part_with_a_lone_surrogate_is_still_scrubbed(
    redactor: Redactor, key: PseudonymKey, part: str, encoded: str
) -> None:
    """Log text may hold lone surrogates (bytes decoded with ``surrogateescape``): a URL
    part that changes is percent-encoded as the engine reads text, instead of raising."""
    hits: Counter[str] = Counter()
    out = redactor.redact_text(f"GET https://x.example/a{part}+14155550123 failed", hits)
    pseudonym = key.pseudonymise("phone", "+14155550123")
    assert out == f"GET https://x.example/a{encoded}{pseudonym} failed"
    assert hits == Counter({"phone_international": 1})


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "SELECT * FROM contacts WHERE phone = '+14155550123' AND team_id = 42 LIMIT 10",
            "SELECT * FROM contacts WHERE phone = ? AND team_id = ? LIMIT ?",
        ),
        (
            "INSERT INTO messages (body, n) VALUES ('it''s me', -1.5e3)",
            "INSERT INTO messages (body, n) VALUES (?, -?)",
        ),
        (
            "UPDATE users SET password = 'x' WHERE id = $1 AND name = %(name)s AND t = :t",
            "UPDATE users SET password = ? WHERE id = $1 AND name = %(name)s AND t = :t",
        ),
        (
            'SELECT "col1", t2.x FROM t2 WHERE note = \'truncat',
            'SELECT "col1", t2.x FROM t2 WHERE note = ?',
        ),
        (
            "SELECT 1 FROM t WHERE s = E'a\\nb' AND b = $$raw$$",
            "SELECT ? FROM t WHERE s = ? AND b = ?",
        ),
    ],
)
def test_sql_literals_become_placeholders(
    redactor: Redactor, statement: str, expected: str
) -> None:
    assert redactor.redact_value("db.statement", statement, Counter()) == expected
    assert redactor.redact_value("db.query.text", statement, Counter()) == expected


def test_sql_looking_text_under_another_key_is_scrubbed(redactor: Redactor) -> None:
    out = redactor.redact_value(
        "max.query", "select * from t where email = 'a' and n = 1", Counter()
    )
    assert out == "select * from t where email = ? and n = ?"


def test_parameterised_sql_is_unchanged(redactor: Redactor) -> None:
    statement = "SELECT id FROM contacts WHERE phone = %(phone)s AND team_id = %(team_id)s"
    hits: Counter[str] = Counter()
    assert redactor.redact_value("db.statement", statement, hits) == statement
    assert not hits


def test_json_string_is_parsed_scrubbed_and_reserialised(
    redactor: Redactor, key: PseudonymKey
) -> None:
    payload = json.dumps(
        {
            "conversation_id": "c-1",
            "contact": {"wa_id": "14155550123", "profile": {"name": "Ana"}},
            "messages": [{"type": "text", "text": "Hi, call me"}],
            "note": "mail ana@example.com",
        }
    )
    hits: Counter[str] = Counter()
    out = redactor.redact_value("http.request.body_json", payload, hits)
    assert isinstance(out, str)
    assert json.loads(out) == {
        "conversation_id": "c-1",
        "contact": {"wa_id": key.pseudonymise("phone", "14155550123"), "profile": {"name": "Ana"}},
        "messages": [{"type": "text", "text": "<11 chars>"}],
        "note": f"mail {key.pseudonymise('email', 'ana@example.com')}",
    }
    assert hits == Counter({"phone": 1, "message_content": 1, "email_address": 1})


def test_clean_json_string_is_returned_as_is(redactor: Redactor) -> None:
    payload = '{"status":  "ok", "items": [1, 2]}'
    assert redactor.redact_value("max.response", payload, Counter()) is payload


def test_nested_maps_and_lists_are_walked(redactor: Redactor, key: PseudonymKey) -> None:
    value = {"a": [{"phone": "+14155550123"}, ("call +14155550123",)], "team_id": 1}
    out = redactor.redact_value("max.payload", value, Counter())
    pseudonym = key.pseudonymise("phone", "+14155550123")
    assert out == {"a": [{"phone": pseudonym}, (f"call {pseudonym}",)], "team_id": 1}


def test_nesting_beyond_the_depth_cap_is_masked(key: PseudonymKey) -> None:
    rules = load_rules()
    redactor = Redactor(dataclasses.replace(rules, max_depth=3), key)
    deep: object = "leaf"
    for _ in range(5):
        deep = {"level": deep}
    hits: Counter[str] = Counter()
    assert redactor.redact_value("max.deep", deep, hits) == {"level": {"level": {"level": "***"}}}
    assert hits == Counter({"depth_cap": 1})


def test_bytes_values_are_scrubbed_as_text(redactor: Redactor, key: PseudonymKey) -> None:
    out = redactor.redact_value("max.raw", b"call +14155550123", Counter())
    assert out == f"call {key.pseudonymise('phone', '+14155550123')}".encode()
    latin = "café +14155550123".encode("latin-1")
    assert redactor.redact_value("max.raw", latin, Counter()) == (
        "café " + key.pseudonymise("phone", "+14155550123")
    ).encode("latin-1")


def test_exception_message_and_stacktrace_are_scrubbed(redactor: Redactor) -> None:
    attributes = {
        "exception.type": "ValueError",
        "exception.message": "no contact for ana@example.com",
        "exception.stacktrace": 'File "app.py", line 3\nValueError: card 4111111111111111',
    }
    out = redactor.redact_attributes(attributes, Counter())
    assert out["exception.type"] == "ValueError"
    assert "ana@example.com" not in str(out["exception.message"])
    assert out["exception.stacktrace"] == 'File "app.py", line 3\nValueError: card ***'


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("boom")


def test_internal_failure_masks_the_value_and_is_counted(redactor: Redactor) -> None:
    hits: Counter[str] = Counter()
    out = redactor.redact_attributes({"max.obj": Unprintable(), "team_id": 1}, hits)
    assert out == {"max.obj": "***", "team_id": 1}
    assert hits == Counter({"fail_closed": 1})


def test_attribute_order_is_preserved(redactor: Redactor) -> None:
    attributes = {"b": "x", "password": "p", "a": "call +14155550123", "z": 1}
    assert list(redactor.redact_attributes(attributes, Counter())) == list(attributes)
