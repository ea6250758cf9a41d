"""WhatsApp webhook handling: signature check and payload normalisation.

Meta signs each webhook body with the app secret, HMAC-SHA256, in the ``X-Hub-Signature-256``
header as ``sha256=<hex>``. The body is the WhatsApp Cloud API's nested
``entry[].changes[].value.messages[]`` structure; :func:`normalise` flattens it into
:class:`InboundMessage` values (text messages only; status callbacks carry no messages)::

    verify_signature(raw_body, request.headers.get(SIGNATURE_HEADER), secret)  # or raises
    messages = normalise(json.loads(raw_body))                                # or raises
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="


class InvalidSignatureError(Exception):
    """The webhook's signature header is missing or does not match its body."""


class MalformedPayloadError(Exception):
    """The webhook body is not JSON (``status_code`` 400) or not a WhatsApp payload (422)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``: ``sha256=<hex digest>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return _SIGNATURE_PREFIX + digest


def verify_signature(body: bytes, header: str | None, secret: str) -> None:
    """Return if ``header`` signs ``body`` with ``secret``; raise InvalidSignatureError if not."""
    if not header:
        raise InvalidSignatureError(f"missing {SIGNATURE_HEADER} header")
    if not header.startswith(_SIGNATURE_PREFIX):
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} must start with {_SIGNATURE_PREFIX}")
    if not hmac.compare_digest(sign(body, secret), header):
        raise InvalidSignatureError(f"{SIGNATURE_HEADER} does not match the body")


class _Text(BaseModel):
    body: str = Field(min_length=1, max_length=4096)


class _Message(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", pattern=r"^\+?[0-9]{6,20}$")
    id: str = Field(min_length=1)
    timestamp: str | None = None
    type: str
    text: _Text | None = None


class _Profile(BaseModel):
    name: str | None = None


class _Contact(BaseModel):
    wa_id: str
    profile: _Profile | None = None


class _Value(BaseModel):
    messaging_product: Literal["whatsapp"]
    contacts: list[_Contact] = []
    messages: list[_Message] = []


class _Change(BaseModel):
    field: str
    value: _Value


class _Entry(BaseModel):
    id: str
    changes: list[_Change]


class _Webhook(BaseModel):
    object: Literal["whatsapp_business_account"]
    entry: list[_Entry] = Field(min_length=1)


@dataclass(frozen=True)
class InboundMessage:
    """One customer text message, as the rest of the service sees it."""

    phone: str  # E.164 with a leading "+"
    text: str
    external_id: str
    customer_name: str | None


def parse_json(body: bytes) -> Any:
    """Decode the JSON body; raise MalformedPayloadError (400) if it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedPayloadError(f"body is not JSON: {error}", 400) from None


def normalise(payload: Any) -> list[InboundMessage]:
    """Flatten a WhatsApp webhook payload; raise MalformedPayloadError (422) if it is not one."""
    try:
        webhook = _Webhook.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise MalformedPayloadError(f"not a WhatsApp webhook payload: {problems}", 422) from None
    inbound: list[InboundMessage] = []
    for entry in webhook.entry:
        for change in entry.changes:
            names = {
                contact.wa_id.lstrip("+"): contact.profile.name
                for contact in change.value.contacts
                if contact.profile is not None
            }
            for message in change.value.messages:
                if message.type != "text":
                    continue
                if message.text is None:
                    raise MalformedPayloadError(f"text message {message.id} has no text.body", 422)
                digits = message.from_.lstrip("+")
                inbound.append(
                    InboundMessage(
                        phone="+" + digits,
                        text=message.text.body,
                        external_id=message.id,
                        customer_name=names.get(digits),
                    )
                )
    return inbound


def text_message_payload(
    phone: str, text: str, *, message_id: str, customer_name: str | None = None
) -> dict[str, Any]:
    """A WhatsApp Cloud API webhook payload carrying one text message (for clients/tests)."""
    digits = phone.lstrip("+")
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "max-waba",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"phone_number_id": "max-number"},
                            "contacts": [{"wa_id": digits, "profile": {"name": customer_name}}],
                            "messages": [
                                {
                                    "from": digits,
                                    "id": message_id,
                                    "timestamp": "1767614400",
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
