"""Audit databases on the session's real PostgreSQL: one owner and one application role per
test module, one fresh database per test (tamper tests break their database's chain)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from max_service_launch.local_servers import PostgresServer
from sqlalchemy import Engine, create_engine, text

from max_otel.instrumentation.audit import AuditStore, AuditTrail, FailurePolicy, install_schema
from max_otel.processors.redaction import PseudonymKey, Redactor, load_rules

TEST_PSEUDONYM_SECRET = "audit-tests-pseudonym-key-0123456789abcdef"


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str


@dataclass(frozen=True)
class AuditDatabase:
    """A database with the audit schema installed, and engines for its three roles."""

    name: str
    roles: Roles
    owner: Engine  # the table owner (migrations, archive)
    app: Engine  # the application role: INSERT and SELECT only
    superuser: Engine  # the attacker who can disable triggers
    owner_url: str
    app_url: str


def _url(server: PostgresServer, user: str, database: str) -> str:
    return f"postgresql+psycopg://{user}@127.0.0.1:{server.port}/{database}"


@pytest.fixture(scope="module")
def audit_roles(postgres_server: PostgresServer) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    roles = Roles(owner=f"audit_owner_{suffix}", app=f"max_app_{suffix}")
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {roles.owner} LOGIN"))
        connection.execute(text(f"CREATE ROLE {roles.app} LOGIN"))
    yield roles
    with admin.connect() as connection:
        connection.execute(text(f"DROP ROLE IF EXISTS {roles.app}"))
        connection.execute(text(f"DROP ROLE IF EXISTS {roles.owner}"))
    admin.dispose()


@pytest.fixture
def audit_db(postgres_server: PostgresServer, audit_roles: Roles) -> Iterator[AuditDatabase]:
    name = f"audit_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} OWNER {audit_roles.owner}"))
    owner_url = _url(postgres_server, audit_roles.owner, name)
    app_url = _url(postgres_server, audit_roles.app, name)
    database = AuditDatabase(
        name=name,
        roles=audit_roles,
        owner=create_engine(owner_url),
        app=create_engine(app_url),
        superuser=create_engine(_url(postgres_server, "postgres", name)),
        owner_url=owner_url,
        app_url=app_url,
    )
    with database.owner.begin() as connection:
        install_schema(connection, app_role=audit_roles.app)
    yield database
    for engine in (database.owner, database.app, database.superuser):
        engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(load_rules(None), PseudonymKey(TEST_PSEUDONYM_SECRET.encode(), "k1"))


@pytest.fixture
def trail(audit_db: AuditDatabase, redactor: Redactor) -> AuditTrail:
    """A fail-closed trail writing as the application role (a failure fails the test)."""
    return AuditTrail(AuditStore(audit_db.app, redactor), policy=FailurePolicy.FAIL_CLOSED)
