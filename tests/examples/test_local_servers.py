"""The test servers themselves: they answer, and come back after a stop."""

from __future__ import annotations

import pytest
import redis
import sqlalchemy
from max_service_launch.local_servers import PostgresServer, RedisServer

pytestmark = pytest.mark.integration


def test_redis_server_answers_and_restarts(tmp_path):
    with RedisServer(tmp_path) as server:
        client = redis.Redis.from_url(server.url, socket_timeout=2)
        assert client.ping()
        server.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.start()
        assert client.ping()


def test_postgres_server_preloads_the_slow_query_extensions(postgres_server: PostgresServer):
    engine = sqlalchemy.create_engine(postgres_server.url)
    with engine.connect() as connection:
        preload = connection.execute(sqlalchemy.text("SHOW shared_preload_libraries")).scalar()
    engine.dispose()
    assert preload == "pg_stat_statements,auto_explain"
