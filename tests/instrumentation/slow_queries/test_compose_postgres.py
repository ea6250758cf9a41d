"""The compose database's PostgreSQL settings and init script, on a real server."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from max_service_launch.local_servers import PostgresServer
from sqlalchemy import create_engine, text

from max_otel.instrumentation.audit.cli import main as audit_main

pytestmark = pytest.mark.integration

DOCKER_POSTGRES = Path(__file__).resolve().parents[3] / "docker" / "postgres"
SPEC_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements,auto_explain",
    "log_min_duration_statement": "1000",
    "auto_explain.log_min_duration": "1000",
}


@pytest.fixture(scope="module")
def compose_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A server whose postgresql.conf includes docker/postgres/postgresql.conf last (only the
    address, port and socket are overridden after it, to stay on loopback)."""
    server = PostgresServer(tmp_path_factory.mktemp("compose-postgres"))
    server.start()
    server.stop()
    included = server.data_dir / "max-compose.conf"
    shutil.copyfile(DOCKER_POSTGRES / "postgresql.conf", included)
    os.chmod(included, 0o644)
    with open(server.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            f"include '{included}'\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {server.port}\n"
            f"unix_socket_directories = '{server.socket_dir}'\n"
        )
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


def test_the_spec_slow_query_settings_come_from_the_compose_file(compose_postgres):
    engine = create_engine(compose_postgres.url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, setting, sourcefile FROM pg_settings WHERE name = ANY(:names)"),
            {"names": list(SPEC_SETTINGS)},
        ).all()
    engine.dispose()
    assert {row.name: row.setting for row in rows} == SPEC_SETTINGS
    assert {Path(row.sourcefile).name for row in rows} == {"max-compose.conf"}


def test_init_script_creates_the_roles_and_the_audit_database(compose_postgres, capsys):
    environment = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "PGPORT": str(compose_postgres.port),
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "postgres",
        "MAX_APP_PASSWORD": "app-secret",
        "MAX_AUDIT_OWNER_PASSWORD": "owner-secret",
    }
    result = subprocess.run(
        ["bash", str(DOCKER_POSTGRES / "initdb" / "10-max-roles.sh")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    base = f"postgresql+psycopg://{{}}@127.0.0.1:{compose_postgres.port}/max_audit"
    assert (
        audit_main(
            ["install", "--database-url", base.format("max_audit_owner"), "--app-role", "max_app"]
        )
        == 0
    )
    engine = create_engine(base.format("max_app"))
    with engine.connect() as connection:
        extensions = connection.execute(text("SELECT extname FROM pg_extension")).scalars()
        assert "pg_stat_statements" in set(extensions)
    engine.dispose()
    assert audit_main(["verify", "--database-url", base.format("max_app")]) == 0


def test_init_script_refuses_to_run_without_passwords(compose_postgres):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MAX_")}
    result = subprocess.run(
        ["bash", str(DOCKER_POSTGRES / "initdb" / "10-max-roles.sh")],
        env={**environment, "PGHOST": "127.0.0.1", "PGPORT": str(compose_postgres.port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "MAX_APP_PASSWORD must be set" in result.stderr


def test_a_statement_over_one_second_is_logged_with_its_plan(compose_postgres):
    engine = create_engine(compose_postgres.url)
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_sleep(1.05) AS compose_slow_marker"))
    engine.dispose()
    log = Path(compose_postgres.directory) / "postgres.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        content = log.read_text(encoding="utf-8", errors="replace")
        if "compose_slow_marker" in content and "plan:" in content:
            break
        time.sleep(0.1)
    lines = [line for line in content.splitlines() if "compose_slow_marker" in line]
    assert any("duration:" in line and "statement:" in line for line in lines), lines
    assert "plan:" in content and "Query Text: SELECT pg_sleep(1.05)" in content
