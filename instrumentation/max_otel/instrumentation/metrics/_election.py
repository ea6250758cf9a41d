"""Who reads the database-backed gauges: exactly one process, so replicas never double count.

Two answers, both plain ``() -> bool`` callables for :class:`DatabaseGaugeCollector`:

- :func:`environment_switch`: ``MAX_OTEL_DB_GAUGES=1`` in exactly one replica (the simplest:
  a dedicated "metrics collector" deployment, or replica 0 of a stateful set).
- :class:`RedisLeaderLock`: every replica may collect, and a Redis lock elects one; when the
  leader stops, another takes over after the lock's TTL::

      leader = RedisLeaderLock(redis.Redis.from_url(url), ttl_seconds=120)
      collector = DatabaseGaugeCollector(enabled=leader)
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from typing import Any

from max_otel.instrumentation.metrics.environment_variables import MAX_OTEL_DB_GAUGES

logger = logging.getLogger(__name__)

_DEFAULT_LOCK_KEY = "max-otel:db-gauges-leader"
_DEFAULT_LOCK_TTL_SECONDS = 120.0
_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})

# Renew the lock only if we still own it (atomic compare-and-extend).
_RENEW_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def environment_switch(env: Mapping[str, str] | None = None) -> bool:
    """True when ``MAX_OTEL_DB_GAUGES`` is ``1``, ``true``, ``yes`` or ``on`` (any case)."""
    value = (os.environ if env is None else env).get(MAX_OTEL_DB_GAUGES, "")
    return value.strip().lower() in _TRUE_VALUES


class RedisLeaderLock:
    """A leader election on one Redis key; calling it answers "am I the collector now?".

    The first caller sets ``key`` to its ``owner`` id with a TTL; while it keeps calling
    (at least once per TTL) it renews the lock and stays leader; others get False. When Redis
    is unreachable every caller gets False: no gauge is better than a doubled one. Never
    raises. ``client`` is a synchronous ``redis.Redis``.
    """

    def __init__(
        self,
        client: Any,
        *,
        key: str = _DEFAULT_LOCK_KEY,
        ttl_seconds: float = _DEFAULT_LOCK_TTL_SECONDS,
        owner: str | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive; got {ttl_seconds}")
        self._client = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.owner = owner or uuid.uuid4().hex

    def __call__(self) -> bool:
        try:
            if self._client.set(self.key, self.owner, nx=True, px=self.ttl_ms):
                return True
            renewed = self._client.eval(_RENEW_SCRIPT, 1, self.key, self.owner, self.ttl_ms)
            return bool(renewed)
        except Exception:
            logger.warning("max-otel: leader lock %s unavailable; not collecting", self.key)
            return False

    def release(self) -> None:
        """Give the lock up now if we hold it (on shutdown), so another replica takes over."""
        try:
            self._client.eval(_RENEW_SCRIPT, 1, self.key, self.owner, 1)
        except Exception:
            logger.warning("max-otel: could not release leader lock %s", self.key)
