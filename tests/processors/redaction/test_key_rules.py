"""Key rules: which attribute keys are kept, masked, pseudonymised, measured or dropped."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from max_otel.processors.redaction import (
    DROP,
    KeyRule,
    PseudonymKey,
    Redactor,
    load_rules,
    normalise_key,
)

pytestmark = pytest.mark.unit


def test_key_normalisation_lowers_ascii_and_unifies_separators() -> None:
    assert normalise_key("HTTP.Request.Header.X-Api-Key") == "http_request_header_x_api_key"
    assert normalise_key("Message Body") == "message_body"
    assert normalise_key("\u212aey") == "\u212aey"  # Kelvin sign stays: bytes scan agrees


@pytest.mark.parametrize(
    "attribute",
    [
        "password",
        "db.password",
        "PASSWD",
        "mysql_pwd",
        "client_secret",
        "api_key",
        "apiKey",
        "X-API-Key",
        "access_token",
        "refresh-token",
        "jwt",
        "Authorization",
        "http.request.header.authorization",
        "proxy-authorization",
        "oauth_state",
        "auth",
        "Cookie",
        "set-cookie",
        "session",
        "sessionid",
        "PHPSESSID",
        "csrftoken",
        "X-XSRF-TOKEN",
        "private_key",
        "credentials",
        "credit_card",
        "card_number",
        "ssn",
        "signature",
    ],
)
def test_secret_key_is_masked(redactor: Redactor, attribute: str) -> None:
    hits: Counter[str] = Counter()
    assert redactor.redact_value(attribute, "s3cr3t value", hits) == "***"
    assert sum(hits.values()) == 1


@pytest.mark.parametrize(
    "attribute", ["author", "authors", "author_id", "author.name", "gen_ai.usage.input_tokens"]
)
def test_author_and_token_counts_are_not_secrets(redactor: Redactor, attribute: str) -> None:
    assert redactor.redact_value(attribute, "Ana", Counter()) == "Ana"


@pytest.mark.parametrize(
    ("attribute", "kind"),
    [
        ("phone", "phone"),
        ("customer.phone_number", "phone"),
        ("msisdn", "phone"),
        ("wa_id", "phone"),
        ("whatsapp.from_number", "phone"),
        ("email", "email"),
        ("user.e-mail", "email"),
        ("client.address", "ip"),
        ("http.client_ip", "ip"),
        ("x-forwarded-for", "ip"),
        ("enduser.id", "user"),
        ("profile_name", "name"),
    ],
)
def test_identifier_under_its_key_is_pseudonymised(
    redactor: Redactor, key: PseudonymKey, attribute: str, kind: str
) -> None:
    assert redactor.redact_value(attribute, "value 1", Counter()) == key.pseudonymise(
        kind, "value 1"
    )


def test_phone_as_integer_under_phone_key_matches_the_string_form(
    redactor: Redactor, key: PseudonymKey
) -> None:
    expected = key.pseudonymise("phone", "+14155550123")
    assert redactor.redact_value("wa_id", 14155550123, Counter()) == expected
    assert redactor.redact_value("phone", "+1 415 555 0123", Counter()) == expected


@pytest.mark.parametrize(
    "attribute",
    [
        "message.body",
        "message_text",
        "messaging.message.content",
        "text",
        "body",
        "message",
        "caption",
        "transcript",
    ],
)
def test_message_text_keeps_only_its_length(redactor: Redactor, attribute: str) -> None:
    hits: Counter[str] = Counter()
    assert redactor.redact_value(attribute, "Olá, tudo bem?", hits) == "<14 chars>"
    assert hits == Counter({"message_content": 1})


def test_message_sizes_and_ids_are_kept(redactor: Redactor) -> None:
    attributes = {
        "messaging.message.body.size": 120,
        "messaging.message.id": "wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI",
        "message_id": "m-1",
        "conversation_id": "c-1",
        "team_id": 4821,
        "agent.id": "ai-7",
        "customer_id": "cus_123",
        "http.response.status_code": 503,
        "retry_count": 3,
    }
    hits: Counter[str] = Counter()
    assert redactor.redact_attributes(attributes, hits) == attributes
    assert not hits


def test_kept_key_is_never_touched_even_when_it_looks_like_pii(redactor: Redactor) -> None:
    assert redactor.redact_value("conversation_id", "+14155550123", Counter()) == "+14155550123"


def test_booleans_and_none_under_sensitive_keys_are_kept(redactor: Redactor) -> None:
    out = redactor.redact_attributes(
        {"phone_verified": True, "email": None, "password_set": False}, Counter()
    )
    assert out == {"phone_verified": True, "email": None, "password_set": False}


def test_numbers_under_other_keys_are_not_taken_for_phones_or_cards(redactor: Redactor) -> None:
    attributes = {"max.order_number": 4111111111111111, "max.amount": 14155550123.0}
    assert redactor.redact_attributes(attributes, Counter()) == attributes


def test_nested_values_under_a_sensitive_key_are_redacted_leaf_by_leaf(
    redactor: Redactor, key: PseudonymKey
) -> None:
    out = redactor.redact_value("phones", ["+14155550123", ("+442079460958",)], Counter())
    assert out == [
        key.pseudonymise("phone", "+14155550123"),
        (key.pseudonymise("phone", "+442079460958"),),
    ]
    assert redactor.redact_value("password", {"old": "a", "new": "b"}, Counter()) == "***"


def test_drop_rule_removes_the_attribute(key: PseudonymKey) -> None:
    rules = load_rules()
    drop = KeyRule("raw_payload", "^raw_payload$", "drop")
    rules = dataclasses.replace(rules, sensitive_keys=(drop, *rules.sensitive_keys))
    redactor = Redactor(rules, key)
    hits: Counter[str] = Counter()
    assert redactor.redact_value("raw_payload", "{...}", hits) is DROP
    assert redactor.redact_attributes({"raw_payload": "x", "a": "b"}, hits) == {"a": "b"}
    assert hits == Counter({"raw_payload": 2})


def test_key_rule_output_is_not_redacted_again(redactor: Redactor) -> None:
    once = redactor.redact_attributes(
        {"phone": "+14155550123", "body": "hello", "password": "x"}, Counter()
    )
    hits: Counter[str] = Counter()
    assert redactor.redact_attributes(once, hits) == once
    assert not hits
