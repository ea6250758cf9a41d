"""The personal data the demo (and the end-to-end tests) send, and the search for it.

Two kinds of requests carry it:

- the customers' conversations of ``max_service.traffic`` (names, phone numbers, e-mail
  addresses, card numbers and a password in WhatsApp messages);
- :func:`console_lookup`, an agent console looking a customer up with the phone number and
  e-mail in the URL query, the phone number in ``X-Customer-Phone`` and a bearer token in
  ``Authorization``; with :data:`CAPTURE_HEADERS_ENV` set on the API, the HTTP
  instrumentation records those headers as span attributes, and the URL (query included)
  is always recorded. So this PII certainly enters the telemetry, and only redaction keeps
  it out of Jaeger.

::

    with httpx.Client(base_url=api_url) as client:
        console_lookup(client, conversation_id, CUSTOMERS[0])
    leaks = find_seeded(stored_text(traces))   # [] when nothing leaked
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import quote, quote_plus, urlencode

import httpx

from max_service.traffic import CUSTOMERS, Customer

CAPTURE_HEADERS_ENV = {
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": "x-customer-phone,authorization"
}
"""Environment for the API process: record these request headers as span attributes."""

# A well-formed JWT (HS256, {"sub": "ana.souza"}) with a made-up signature.
CONSOLE_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbmEuc291emEifQ."
    "c2lnbmF0dXJlLW9mLXRoZS1tYXgtY29uc29sZQ"
)

EMBEDDED_PII: tuple[str, ...] = (
    "4111 1111 1111 1111",
    "ana.souza@example.com",
    "+55 11 98765-4321",
    "Hunter2!secret",
    "john.miller@example.org",
    "+33 6 12 34 56 78",
    "billing@dupont.example.fr",
    "5500 0000 0000 0004",
)
"""PII inside the messages of ``max_service.traffic.CUSTOMERS`` (each occurs in one)."""

_MIN_DIGITS = 8


def _variants(value: str) -> list[str]:
    """``value``, its URL-encoded forms and, for phone and card numbers, its digits alone."""
    found = [value, quote(value, safe=""), quote_plus(value)]
    digits = re.sub(r"\D", "", value)
    if len(digits) >= _MIN_DIGITS:
        found.append(digits)
    return list(dict.fromkeys(found))


def seeded_values(customers: Sequence[Customer] = CUSTOMERS) -> list[str]:
    """Every seeded value to search for: names, phones, messages, embedded PII, the token."""
    values: list[str] = [CONSOLE_TOKEN, CONSOLE_TOKEN.rsplit(".", 1)[1]]
    for customer in customers:
        # The full name and the family name (first names are too short to search for).
        values += [customer.name, customer.name.split()[-1]]
        values += _variants(customer.phone)
        for message in customer.messages:
            values += _variants(message)
    for value in EMBEDDED_PII:
        values += _variants(value)
    return list(dict.fromkeys(values))


def find_seeded(text: str, values: Iterable[str] | None = None) -> list[str]:
    """The seeded values that occur in ``text`` (case-insensitive); empty when none leaked."""
    haystack = text.casefold()
    return [v for v in (seeded_values() if values is None else values) if v.casefold() in haystack]


def console_lookup(
    client: httpx.Client, conversation_id: str, customer: Customer
) -> httpx.Response:
    """GET the conversation the way an agent console does, with the customer's PII in the
    URL query and headers (see the module docstring); raise on an unexpected status."""
    email = next((v for v in EMBEDDED_PII if "@" in v and v in " ".join(customer.messages)), "")
    query = urlencode({"customer_phone": customer.phone, "customer_email": email})
    response = client.get(
        f"/conversations/{conversation_id}?{query}",
        headers={"X-Customer-Phone": customer.phone, "Authorization": f"Bearer {CONSOLE_TOKEN}"},
    )
    return response.raise_for_status()


__all__ = [
    "CAPTURE_HEADERS_ENV",
    "CONSOLE_TOKEN",
    "EMBEDDED_PII",
    "console_lookup",
    "find_seeded",
    "seeded_values",
]
