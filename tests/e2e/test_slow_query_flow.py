"""Slow-query logging of the sample service, end to end, with no code in the service.

The sample service runs on PostgreSQL under ``opentelemetry-instrument`` with the max_otel
distro and ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS=200``, as a Max team would run it. A request to
``GET /conversations/{id}/slow?seconds=0.3`` runs ``SELECT pg_sleep(...)``: the service's JSON
logs on stdout must carry one ``db.slow_query`` event for it, its statement parameterised (no
literal value) and tagged with the conversation, and ``max-otel db slow-queries`` must list
the statement from ``pg_stat_statements``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from max_service_launch.local_servers import PostgresServer, RedisServer
from max_service_launch.sample_service import SampleService, postgres_database

from tests.support.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.e2e

MAX_OTEL = Path(sys.executable).parent / "max-otel"
THRESHOLD_MS = 200
SLEEP_SECONDS = 0.3
LOG_WAIT_SECONDS = 15.0


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> Iterator[str]:
    """The service's database, with ``pg_stat_statements`` created in it."""
    with postgres_database(postgres_server.url) as url:
        engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, database: str
) -> Iterator[SampleService]:
    with (
        OtlpReceiver() as receiver,
        SampleService(
            tmp_path_factory.mktemp("slow-queries"),
            redis_url=redis_server.url,
            database_url=database,
            otlp_endpoint=receiver.endpoint,
            distro="max_otel",
            worker=False,
            env={"MAX_OTEL_SLOW_QUERY_THRESHOLD_MS": str(THRESHOLD_MS)},
        ) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def slow_conversation(service: SampleService) -> str:
    """A conversation whose ``/slow`` endpoint was called once, successfully."""
    response = service.post_webhook("+5511987650777", "hello")
    assert response.status_code == 200, response.text
    [conversation_id] = response.json()["conversation_ids"]
    with service.client() as client:
        slow = client.get(
            f"/conversations/{conversation_id}/slow", params={"seconds": SLEEP_SECONDS}
        )
    assert slow.status_code == 200, slow.text
    return str(conversation_id)


def _json_lines(service: SampleService) -> list[dict[str, Any]]:
    records = []
    for line in service.service_stdout_lines("api"):
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def _slow_query_events(service: SampleService, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's ``db.slow_query`` lines (start-up DDL may be slow too: not those)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        events = [
            record
            for record in _json_lines(service)
            if record.get("event") == "db.slow_query"
            and record.get("conversation_id") == conversation_id
        ]
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_slow_statement_is_logged_parameterised_with_its_conversation(
    service: SampleService, slow_conversation: str
) -> None:
    events = _slow_query_events(service, slow_conversation)

    assert events, (
        "no db.slow_query line with the conversation_id on the API's stdout: does the "
        "max_otel distro install the "
        "slow-query hook (install_slow_query_logging) on SQLAlchemy engines?\n"
        + service.output_tail("api")
    )
    [event] = events  # the request's other, fast statements stay below the threshold
    assert "pg_sleep(" in event["statement"]
    assert str(SLEEP_SECONDS) not in event["statement"]
    assert event["level"] == "WARNING"
    assert event["threshold_ms"] == THRESHOLD_MS
    assert event["duration_ms"] >= SLEEP_SECONDS * 1000
    assert event["db_system"] == "postgresql"


def test_slow_queries_report_lists_the_pg_sleep_statement(
    database: str, slow_conversation: str
) -> None:
    report = subprocess.run(
        [str(MAX_OTEL), "db", "slow-queries", "--threshold-ms", str(THRESHOLD_MS),
         "--database-url", database, "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert report.returncode == 0, report.stderr
    statements = json.loads(report.stdout)
    [sleep] = [s for s in statements if "pg_sleep" in s["query"]]
    assert sleep["mean_ms"] >= SLEEP_SECONDS * 1000
    assert sleep["calls"] == 1
    assert str(SLEEP_SECONDS) not in sleep["query"]
    assert all(s["mean_ms"] > THRESHOLD_MS for s in statements)
