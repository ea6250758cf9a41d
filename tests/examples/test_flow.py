"""The sample service's inbound-message flow, uninstrumented, on SQLite and on PostgreSQL.

Real uvicorn, real Celery prefork worker, real Redis and PostgreSQL; one service per database
for the whole module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
import redis
import sqlalchemy
from max_service_launch.sample_service import SampleService, postgres_database

from max_service.triage import TEAMS
from max_service.webhook import SIGNATURE_HEADER, sign, text_message_payload
from tests.support.crm_endpoint import CrmEndpoint

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory, redis_server, crm: CrmEndpoint) -> Iterator[SampleService]:
    with ExitStack() as stack:
        database_url = None
        if request.param == "postgresql":
            server = request.getfixturevalue("postgres_server")
            database_url = stack.enter_context(postgres_database(server.url))
        yield stack.enter_context(
            SampleService(
                tmp_path_factory.mktemp(f"service-{request.param}"),
                redis_url=redis_server.url,
                database_url=database_url,
                instrumented=False,
                env={"MAX_INTEGRATION_URL": crm.url},
            )
        )


@pytest.fixture
def client(service: SampleService) -> Iterator[httpx.Client]:
    with service.client() as http:
        yield http


def _row_counts(service: SampleService) -> tuple[int, int]:
    engine = sqlalchemy.create_engine(service.database_url)
    try:
        with engine.connect() as connection:
            conversations = connection.execute(
                sqlalchemy.text("SELECT count(*) FROM conversations")
            ).scalar_one()
            messages = connection.execute(
                sqlalchemy.text("SELECT count(*) FROM messages")
            ).scalar_one()
    finally:
        engine.dispose()
    return conversations, messages


def _wait_for(fetch, done, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_ping_answers(client):
    assert client.get("/ping").json() == {"status": "ok"}


def test_signed_webhook_creates_a_conversation_with_the_message(service, client):
    response = service.post_webhook("+5511900000001", "Olá, quero comprar", "Ana")
    assert response.status_code == 200, response.text
    [conversation_id] = response.json()["conversation_ids"]
    [message_id] = response.json()["message_ids"]

    conversation = client.get(f"/conversations/{conversation_id}").json()
    assert conversation["customer_phone"] == "+5511900000001"
    assert conversation["customer_name"] == "Ana"
    assert conversation["channel"] == "whatsapp"
    [message] = conversation["messages"]
    assert message["id"] == message_id
    assert (message["direction"], message["body"]) == ("inbound", "Olá, quero comprar")


def test_worker_assigns_the_conversation_to_the_team_its_words_call_for(service, crm):
    response = service.post_webhook("+5511900000002", "My card was charged twice", "Bob")
    [conversation_id] = response.json()["conversation_ids"]

    conversation = service.wait_until_assigned(conversation_id)

    assert conversation["status"] == "assigned"
    assert conversation["team"] == "billing"
    assert conversation["team_id"] == str(TEAMS["billing"].id)
    assert conversation["assigned_to"] in {str(agent) for agent in TEAMS["billing"].agents}
    cached = redis.Redis.from_url(service.redis_url).get(
        f"max:conversation:{conversation_id}:assignment"
    )
    assert json.loads(cached)["assigned_to"] == conversation["assigned_to"]
    call = crm.wait_for_call(lambda call: call.body["conversation_id"] == conversation_id)
    assert call.body["event"] == "conversation.assigned"
    assert call.body["customer_phone"] == "+5511900000002"


def test_next_message_joins_the_open_conversation_and_closing_starts_a_new_one(service, client):
    first = service.post_webhook("+5511900000003", "hello").json()["conversation_ids"][0]
    second = service.post_webhook("+5511900000003", "anyone there?").json()["conversation_ids"][0]
    assert second == first
    assert len(client.get(f"/conversations/{first}").json()["messages"]) == 2

    closed = client.post(f"/conversations/{first}/close")
    assert closed.json()["status"] == "closed"
    third = service.post_webhook("+5511900000003", "back again").json()["conversation_ids"][0]
    assert third != first


def test_agent_reply_is_sent_by_the_worker_and_pushed_to_the_agents(service, client):
    conversation_id = service.post_webhook("+5511900000004", "hi").json()["conversation_ids"][0]
    service.wait_until_assigned(conversation_id)
    pubsub = redis.Redis.from_url(service.redis_url).pubsub()
    pubsub.subscribe(f"max:ws:conversation:{conversation_id}")
    pubsub.get_message(timeout=2)  # the subscription confirmation

    accepted = client.post(f"/conversations/{conversation_id}/messages", json={"text": "Hello!"})

    assert accepted.status_code == 202
    message_id = accepted.json()["message_id"]
    pushed = _wait_for(
        lambda: pubsub.get_message(timeout=1),
        lambda message: message is not None and b"message.sent" in message["data"],
        timeout=10,
    )
    pubsub.close()
    assert pushed is not None
    assert json.loads(pushed["data"]) == {
        "event": "message.sent",
        "conversation_id": conversation_id,
        "message_id": message_id,
    }
    messages = client.get(f"/conversations/{conversation_id}").json()["messages"]
    assert [(m["direction"], m["status"]) for m in messages] == [
        ("inbound", "received"),
        ("outbound", "sent"),
    ]


def test_reply_to_a_closed_conversation_is_a_409(service, client):
    conversation_id = service.post_webhook("+5511900000005", "bye").json()["conversation_ids"][0]
    client.post(f"/conversations/{conversation_id}/close")
    response = client.post(f"/conversations/{conversation_id}/messages", json={"text": "?"})
    assert response.status_code == 409


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SIGNATURE_HEADER: sign(b"another body", "test-webhook-secret")},
        {SIGNATURE_HEADER: "sha256=" + "0" * 64},
    ],
    ids=["missing", "other-body", "forged"],
)
def test_webhook_with_a_bad_signature_is_401_and_stores_nothing(service, client, headers):
    before = _row_counts(service)
    body = json.dumps(text_message_payload("+5511900000006", "x", message_id="wamid.x")).encode()
    response = client.post("/webhooks/whatsapp", content=body, headers=headers)
    assert response.status_code == 401
    assert _row_counts(service) == before


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b'{"object": "page", "entry": []}', 422),
        (json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1"}]}).encode(), 422),
    ],
    ids=["not-json", "not-whatsapp", "no-changes"],
)
def test_malformed_webhook_is_rejected_and_stores_nothing(service, client, body, status):
    before = _row_counts(service)
    response = client.post(
        "/webhooks/whatsapp",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, service.webhook_secret)},
    )
    assert response.status_code == status
    assert _row_counts(service) == before


def test_unknown_or_invalid_conversation_ids(client):
    assert client.get("/conversations/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/conversations/not-a-uuid").status_code == 422


def test_slow_endpoint_runs_a_slow_query(service, client):
    conversation_id = service.post_webhook("+5511900000007", "slow").json()["conversation_ids"][0]
    started = time.monotonic()
    response = client.get(f"/conversations/{conversation_id}/slow")
    assert response.json() == {"conversation_id": conversation_id, "slept_seconds": 1.2}
    assert time.monotonic() - started >= 1.2


def test_traffic_driver_creates_conversations_that_get_assigned_and_closed(service, client):
    ids = service.drive_traffic()
    assert len(ids) == 3
    statuses = {client.get(f"/conversations/{cid}").json()["status"] for cid in ids}
    assert statuses == {"closed", "assigned"}
