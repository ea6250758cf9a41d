"""Drive realistic conversations against a running sample service.

Several customers write in over WhatsApp (signed webhooks) with the kind of personal data real
customers send: phone numbers, e-mail addresses, card numbers, a password. The worker triages
each conversation; an agent replies; some conversations are closed. Prints the conversation
ids it created, one per line::

    PYTHONPATH=examples python -m max_service.traffic --base-url http://127.0.0.1:8000 \\
        --secret "$MAX_WEBHOOK_SECRET" --rounds 2

or from Python: ``ids = drive_conversations("http://127.0.0.1:8000", secret)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from max_service.settings import WEBHOOK_SECRET, Settings
from max_service.webhook import SIGNATURE_HEADER, sign, text_message_payload

_DEFAULT_BASE_URL = "http://127.0.0.1:8000"
_DEFAULT_ASSIGN_TIMEOUT = 20.0


@dataclass(frozen=True)
class Customer:
    """A customer and what they write, in order."""

    name: str
    phone: str
    messages: tuple[str, ...]
    close: bool


CUSTOMERS: tuple[Customer, ...] = (
    Customer(
        "Ana Souza",
        "+5511987654321",
        (
            "Hi, my card 4111 1111 1111 1111 was charged twice for order 1182",
            "You can reach me at ana.souza@example.com or +55 11 98765-4321",
        ),
        close=True,
    ),
    Customer(
        "John Miller",
        "+14155550123",
        (
            "I can't log in. My password is Hunter2!secret, please reset it",
            "My email is john.miller@example.org",
        ),
        close=False,
    ),
    Customer(
        "Marie Dupont",
        "+33612345678",
        (
            "Bonjour, I'd like a quote for 40 seats, call me on +33 6 12 34 56 78",
            "Our billing contact is billing@dupont.example.fr, card 5500 0000 0000 0004",
        ),
        close=True,
    ),
)


def send_webhook(
    client: httpx.Client, secret: str, phone: str, text: str, name: str | None = None
) -> httpx.Response:
    """POST one signed text message to ``/webhooks/whatsapp``."""
    payload = text_message_payload(
        phone, text, message_id=f"wamid.{uuid.uuid4().hex}", customer_name=name
    )
    body = json.dumps(payload).encode()
    return client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret)},
    )


def wait_until_assigned(
    client: httpx.Client, conversation_id: str, timeout: float = _DEFAULT_ASSIGN_TIMEOUT
) -> dict[str, object]:
    """Poll the conversation until the worker assigned it; raise TimeoutError if it does not."""
    deadline = time.monotonic() + timeout
    while True:
        conversation: dict[str, object] = (
            client.get(f"/conversations/{conversation_id}").raise_for_status().json()
        )
        if conversation["assigned_to"] is not None:
            return conversation
        if time.monotonic() > deadline:
            raise TimeoutError(f"conversation {conversation_id} not assigned after {timeout}s")
        time.sleep(0.1)


def drive_conversations(
    base_url: str,
    secret: str,
    *,
    rounds: int = 1,
    customers: Sequence[Customer] = CUSTOMERS,
    wait_for_assignment: bool = True,
    timeout: float = 10.0,
) -> list[str]:
    """Run ``rounds`` of every customer's conversation; return the conversation ids created.

    Each round: the customer's first message opens a conversation, the worker assigns it, an
    agent replies, the customer writes again, and the conversation is closed if
    ``customer.close`` (so the next round opens a new one). Raises ``httpx.HTTPStatusError`` on
    any unexpected status.
    """
    created: list[str] = []
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for _ in range(rounds):
            for customer in customers:
                first, *rest = customer.messages
                accepted = send_webhook(client, secret, customer.phone, first, customer.name)
                conversation_id = str(accepted.raise_for_status().json()["conversation_ids"][0])
                if conversation_id not in created:
                    created.append(conversation_id)
                if wait_for_assignment:
                    wait_until_assigned(client, conversation_id)
                client.post(
                    f"/conversations/{conversation_id}/messages",
                    json={"text": f"Hello {customer.name.split()[0]}, I'm looking into it."},
                ).raise_for_status()
                for text in rest:
                    send_webhook(
                        client, secret, customer.phone, text, customer.name
                    ).raise_for_status()
                client.get(f"/conversations/{conversation_id}").raise_for_status()
                if customer.close:
                    client.post(f"/conversations/{conversation_id}/close").raise_for_status()
    return created


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: drive the conversations and print their ids."""
    parser = argparse.ArgumentParser(prog="python -m max_service.traffic", description=__doc__)
    parser.add_argument("--base-url", default=_DEFAULT_BASE_URL)
    parser.add_argument(
        "--secret",
        default=None,
        help=f"webhook secret (default: ${WEBHOOK_SECRET} or the development secret)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--no-wait", action="store_true", help="do not wait for the worker to assign"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    secret = args.secret or Settings.from_environment(dict(os.environ)).webhook_secret
    try:
        ids = drive_conversations(
            args.base_url, secret, rounds=args.rounds, wait_for_assignment=not args.no_wait
        )
    except (httpx.HTTPError, TimeoutError) as error:
        print(f"traffic: {error}", file=sys.stderr)
        return 1
    for conversation_id in ids:
        print(conversation_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
