"""Slow statements become ``db.slow_query`` log events without their literal values."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from max_service_launch.local_servers import PostgresServer
from opentelemetry import baggage, context
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from max_otel.instrumentation.slow_queries import (
    install_slow_query_logging,
    slow_query_threshold_seconds,
)

SECRET = "max-secret-literal-4242"
CONVERSATION = "6f1c0d8e-5b0a-4c1e-9a57-3f0f0c1e2d4b"


@pytest.fixture
def engine(postgres_server: PostgresServer) -> Iterator[Engine]:
    engine = create_engine(postgres_server.url)
    yield engine
    engine.dispose()


def _slow_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "db.slow_query"]


@pytest.mark.integration
def test_a_slow_statement_is_logged_without_its_literals(
    engine: Engine, caplog: pytest.LogCaptureFixture
):
    hook = install_slow_query_logging(engine, threshold_s=0.2)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"),
            engine.connect() as c,
        ):
            c.execute(text(f"SELECT pg_sleep(0.3), '{SECRET}' AS label, 31337 AS pin"))
            c.execute(text(f"SELECT '{SECRET}' AS fast"))
    finally:
        hook.remove()
    [record] = _slow_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.duration_ms >= 300
    assert record.threshold_ms == 200
    assert record.db_system == "postgresql"
    assert record.statement.startswith("SELECT pg_sleep(")
    for literal in (SECRET, "0.3", "31337"):
        assert literal not in record.statement
    assert not hasattr(record, "conversation_id")


@pytest.mark.integration
def test_the_conversation_id_comes_from_baggage(engine: Engine, caplog):
    hook = install_slow_query_logging(engine, threshold_s=0.2)
    token = context.attach(baggage.set_baggage("conversation_id", CONVERSATION))
    try:
        with (
            caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"),
            engine.connect() as c,
        ):
            c.execute(text("SELECT pg_sleep(0.25)"))
    finally:
        context.detach(token)
        hook.remove()
    [record] = _slow_records(caplog)
    assert record.conversation_id == CONVERSATION


@pytest.mark.integration
def test_a_statement_cancelled_after_the_threshold_is_logged_as_failed(engine: Engine, caplog):
    hook = install_slow_query_logging(engine, threshold_s=0.2)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"),
            engine.connect() as c,
        ):
            c.execute(text("SET statement_timeout = 250"))
            with pytest.raises(OperationalError):
                c.execute(text("SELECT pg_sleep(2)"))
    finally:
        hook.remove()
    [record] = _slow_records(caplog)
    assert record.failed is True
    assert record.duration_ms >= 250
    assert "2" not in record.statement.replace("pg_sleep", "")


@pytest.mark.integration
def test_installing_on_the_engine_class_covers_every_engine_and_remove_stops_it(
    postgres_server: PostgresServer, caplog
):
    hook = install_slow_query_logging(Engine, threshold_s=0.2)
    later = create_engine(postgres_server.url)  # created after the hook was installed
    try:
        with caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"):
            with later.connect() as connection:
                connection.execute(text("SELECT pg_sleep(0.25)"))
            hook.remove()
            with later.connect() as connection:
                connection.execute(text("SELECT pg_sleep(0.25)"))
    finally:
        hook.remove()
        later.dispose()
    assert len(_slow_records(caplog)) == 1


@pytest.mark.integration
def test_a_failing_scrubber_never_breaks_the_query(engine: Engine, caplog):
    def broken(_statement: str) -> str:
        raise RuntimeError("scrubber bug")

    hook = install_slow_query_logging(engine, threshold_s=0.2, scrubber=broken)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"),
            engine.connect() as c,
        ):
            assert c.execute(text(f"SELECT pg_sleep(0.25), '{SECRET}'")).one()[1] == SECRET
    finally:
        hook.remove()
    [record] = _slow_records(caplog)
    assert SECRET not in record.statement
    assert record.statement.startswith("<statement not logged")


@pytest.mark.unit
def test_threshold_precedence_argument_then_environment_then_one_second(monkeypatch):
    monkeypatch.setenv("MAX_OTEL_SLOW_QUERY_THRESHOLD_MS", "250")
    assert slow_query_threshold_seconds(0.5) == 0.5
    assert slow_query_threshold_seconds() == 0.25
    monkeypatch.delenv("MAX_OTEL_SLOW_QUERY_THRESHOLD_MS")
    assert slow_query_threshold_seconds() == 1.0


@pytest.mark.unit
@pytest.mark.parametrize("raw", ["0", "-5", "fast", "nan", "inf"])
def test_an_invalid_threshold_is_refused_with_the_setting_named(raw: str):
    with pytest.raises(
        ValueError, match="MAX_OTEL_SLOW_QUERY_THRESHOLD_MS must be a positive number"
    ):
        slow_query_threshold_seconds(env={"MAX_OTEL_SLOW_QUERY_THRESHOLD_MS": raw})


@pytest.mark.unit
def test_slow_queries_on_sqlite_are_logged_too(caplog):
    """The hook is dialect-agnostic (the sample service also runs on SQLite)."""
    engine = create_engine(f"sqlite:///file:{uuid.uuid4().hex}?mode=memory&uri=true")

    def sleep(seconds: float) -> int:
        time.sleep(seconds)
        return 0

    event.listen(engine, "connect", lambda dbapi, _r: dbapi.create_function("pg_sleep", 1, sleep))
    hook = install_slow_query_logging(engine, threshold_s=0.1)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="max_otel.slow_queries"),
            engine.connect() as c,
        ):
            c.execute(text("SELECT pg_sleep(0.15)"))
    finally:
        hook.remove()
        engine.dispose()
    [record] = _slow_records(caplog)
    assert record.db_system == "sqlite"
    assert "0.15" not in record.statement
