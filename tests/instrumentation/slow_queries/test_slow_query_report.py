"""``max-otel db slow-queries``: the slow statements from ``pg_stat_statements``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from max_service_launch.local_servers import PostgresServer
from sqlalchemy import create_engine, text

from max_otel.instrumentation.slow_queries import (
    ExtensionMissingError,
    install_slow_query_logging,
    slow_statements,
)
from max_otel.instrumentation.slow_queries.cli import main as db_main

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database with pg_stat_statements installed (by the superuser)."""
    name = f"slow_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_server.url.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("CREATE EXTENSION pg_stat_statements"))
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_a_logged_slow_query_is_in_the_report_too(database_url: str, capsys, caplog):
    engine = create_engine(database_url)
    hook = install_slow_query_logging(engine, threshold_s=0.2)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(0.3), 'report-secret' AS label"))
            connection.execute(text("SELECT 1"))
    finally:
        hook.remove()
    with engine.connect() as connection:
        [statement] = slow_statements(connection, threshold_ms=200)
    engine.dispose()
    assert statement.query == "SELECT pg_sleep($1), $2 AS label"
    assert statement.calls == 1 and statement.mean_ms >= 300
    assert any(r.getMessage() == "db.slow_query" for r in caplog.records)

    assert db_main(["slow-queries", "--database-url", database_url, "--threshold-ms", "200"]) == 0
    table = capsys.readouterr().out
    assert "mean ms" in table and "SELECT pg_sleep($1), $2 AS label" in table
    assert "report-secret" not in table
    assert (
        db_main(["slow-queries", "--database-url", database_url, "--threshold-ms", "200", "--json"])
        == 0
    )
    [reported] = json.loads(capsys.readouterr().out)
    assert reported["query"] == "SELECT pg_sleep($1), $2 AS label"
    assert reported["calls"] == 1


def test_nothing_above_the_threshold_is_an_empty_report(database_url: str, capsys):
    assert db_main(["slow-queries", "--database-url", database_url]) == 0
    assert "(no statement above the threshold)" in capsys.readouterr().out


def test_a_database_without_the_extension_is_a_clear_error(postgres_server: PostgresServer, capsys):
    name = f"noext_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_server.url.rsplit("/", 1)[0] + "/" + name
    try:
        engine = create_engine(url)
        with engine.connect() as connection, pytest.raises(ExtensionMissingError):
            slow_statements(connection, threshold_ms=1000)
        engine.dispose()
        assert db_main(["slow-queries", "--database-url", url]) == 1
        assert "CREATE EXTENSION pg_stat_statements" in capsys.readouterr().err
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_no_database_url_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("MAX_DATABASE_URL", raising=False)
    assert db_main(["slow-queries"]) == 2
    assert "--database-url or MAX_DATABASE_URL must be set" in capsys.readouterr().err
