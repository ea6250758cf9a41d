"""Engines for the audit database, from a URL given as an argument or in the environment.

libpq URLs (``postgresql://...``) are accepted and run on psycopg 3, the driver max-otel
pins; SQLAlchemy URLs with a driver (``postgresql+psycopg://...``) are used as given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlalchemy import Engine, create_engine

from max_otel.instrumentation.audit._environment import AUDIT_DATABASE_URL

# A request waiting on an unreachable audit database waits at most this long per attempt.
_CONNECT_TIMEOUT_SECONDS = 3


def resolve_database_url(url: str | None, env: Mapping[str, str] | None = None) -> str:
    """``url``, else ``MAX_OTEL_AUDIT_DATABASE_URL``; raise ``ValueError`` if neither is set."""
    environment = os.environ if env is None else env
    chosen = url or environment.get(AUDIT_DATABASE_URL, "")
    if not chosen:
        raise ValueError(
            f"--database-url or {AUDIT_DATABASE_URL} must be set to the audit database's URL; "
            "got neither"
        )
    return sqlalchemy_url(chosen)


def sqlalchemy_url(url: str) -> str:
    """A libpq ``postgresql://`` or ``postgres://`` URL as a psycopg 3 SQLAlchemy URL."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def audit_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for the audit database (pre-ping, so a restarted server is survived)."""
    return create_engine(
        sqlalchemy_url(url),
        pool_pre_ping=True,
        pool_size=pool_size,
        connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS},
        # Error messages never carry the (already redacted) values of a failed write.
        hide_parameters=True,
    )
