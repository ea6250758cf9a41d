"""Webhook signature and payload normalisation of the sample service (pure logic)."""

from __future__ import annotations

import json

import pytest

from max_service.webhook import (
    InvalidSignatureError,
    MalformedPayloadError,
    normalise,
    parse_json,
    sign,
    text_message_payload,
    verify_signature,
)

pytestmark = pytest.mark.unit

SECRET = "unit-test-secret"


def test_signature_made_with_the_secret_is_accepted():
    body = b'{"object": "whatsapp_business_account"}'
    verify_signature(body, sign(body, SECRET), SECRET)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing X-Hub-Signature-256 header"),
        ("", "missing X-Hub-Signature-256 header"),
        ("md5=abc", "X-Hub-Signature-256 must start with sha256="),
        (sign(b"other body", SECRET), "X-Hub-Signature-256 does not match the body"),
        (sign(b"{}", "wrong-secret"), "X-Hub-Signature-256 does not match the body"),
    ],
)
def test_bad_signature_is_rejected_with_its_reason(header, reason):
    with pytest.raises(InvalidSignatureError, match=reason):
        verify_signature(b"{}", header, SECRET)


def test_text_message_is_normalised_to_phone_text_and_name():
    payload = text_message_payload(
        "5511987654321", "Olá, preciso de ajuda", message_id="wamid.1", customer_name="Ana"
    )
    [message] = normalise(payload)
    assert message.phone == "+5511987654321"
    assert message.text == "Olá, preciso de ajuda"
    assert message.external_id == "wamid.1"
    assert message.customer_name == "Ana"


def test_status_callbacks_and_media_messages_carry_no_text_message():
    payload = text_message_payload("5511987654321", "x", message_id="wamid.2")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"][0] = {"from": "5511987654321", "id": "wamid.3", "type": "image"}
    assert normalise(payload) == []
    del value["messages"]
    value["statuses"] = [{"id": "wamid.2", "status": "delivered"}]
    assert normalise(payload) == []


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda p: p.update(object="page"), "object"),
        (lambda p: p.update(entry=[]), "entry"),
        (lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].pop("from"), "from"),
        (
            lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].update(
                {"from": "not-a-phone"}
            ),
            "from",
        ),
        (lambda p: p["entry"][0]["changes"][0]["value"]["messages"][0].pop("text"), "text.body"),
    ],
)
def test_payload_that_is_not_a_whatsapp_webhook_is_a_422(mutate, fragment):
    payload = text_message_payload("5511987654321", "hello", message_id="wamid.4")
    mutate(payload)
    with pytest.raises(MalformedPayloadError) as raised:
        normalise(payload)
    assert raised.value.status_code == 422
    assert fragment in str(raised.value)


def test_body_that_is_not_json_is_a_400():
    with pytest.raises(MalformedPayloadError) as raised:
        parse_json(b"{not json")
    assert raised.value.status_code == 400
    assert parse_json(json.dumps({"a": 1}).encode()) == {"a": 1}
