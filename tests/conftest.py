"""Session-wide fixtures: one real Redis and one real PostgreSQL for the whole test run.

Tests that need to stop a server (fault tests) start their own ``RedisServer`` or
``PostgresServer`` from ``max_service_launch.local_servers`` instead of stopping the shared ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from max_service_launch.local_servers import PostgresServer, RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A running redis-server on 127.0.0.1; ``.url`` is its redis:// URL."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A running PostgreSQL on 127.0.0.1; ``.url`` is a SQLAlchemy URL as superuser."""
    with PostgresServer(tmp_path_factory.mktemp("postgres")) as server:
        yield server
