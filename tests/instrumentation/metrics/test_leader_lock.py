"""The Redis leader lock elects exactly one collector and hands over when it goes away."""

from __future__ import annotations

import time

import pytest
import redis
from max_service_launch.local_servers import RedisServer

from max_otel.instrumentation.metrics import RedisLeaderLock

pytestmark = pytest.mark.integration


def test_first_caller_leads_and_the_other_does_not(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    first = RedisLeaderLock(client, key="lock-a", ttl_seconds=30)
    second = RedisLeaderLock(client, key="lock-a", ttl_seconds=30)

    assert [first(), second(), first(), second()] == [True, False, True, False]


def test_released_lock_is_taken_over(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    first = RedisLeaderLock(client, key="lock-b", ttl_seconds=30)
    second = RedisLeaderLock(client, key="lock-b", ttl_seconds=30)
    assert first()
    first.release()
    time.sleep(0.05)
    assert second()
    assert not first()


def test_lock_of_a_leader_that_stopped_calling_expires(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url)
    first = RedisLeaderLock(client, key="lock-c", ttl_seconds=0.3)
    second = RedisLeaderLock(client, key="lock-c", ttl_seconds=0.3)
    assert first()
    assert not second()
    time.sleep(0.5)
    assert second()


def test_nobody_leads_while_redis_is_down(tmp_path) -> None:
    with RedisServer(tmp_path / "redis") as server:
        client = redis.Redis.from_url(server.url, socket_timeout=1, socket_connect_timeout=1)
        lock = RedisLeaderLock(client, key="lock-d", ttl_seconds=30)
        assert lock()
        server.stop()
        assert not lock()
        server.start()
        assert lock()
