"""The database engine, sessions and schema, from ``MAX_DATABASE_URL``.

One engine per process, created at import (so ``opentelemetry-instrument`` has already
patched SQLAlchemy when it is created), its statements timed for the metrics catalogue
(``db_query_duration_seconds``, ``db_slow_queries_total``). Forked Celery children call
:func:`after_fork` so they never share the parent's pooled connections::

    create_schema()
    with session_scope() as session:
        session.add(conversation)

On SQLite the engine registers a ``pg_sleep(seconds)`` SQL function, so the same slow query
(``SELECT pg_sleep(1.2)``) runs on both databases, and uses WAL journaling with a busy timeout
because the API and the worker processes write to the same file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from max_service import service_metrics
from max_service.models import Base
from max_service.settings import Settings

logger = logging.getLogger(__name__)

_SQLITE_BUSY_TIMEOUT_SECONDS = 30
# A request (or a readiness probe) waiting on an unreachable PostgreSQL gives up this soon.
_CONNECT_TIMEOUT_SECONDS = 2


def _sqlite_sleep(seconds: float) -> int:
    time.sleep(float(seconds))
    return 0


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.create_function("pg_sleep", 1, _sqlite_sleep)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def build_engine(database_url: str) -> Engine:
    """Create the engine for ``database_url`` with the settings each backend needs."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(
        database_url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS},
    )


engine = build_engine(Settings.from_environment().database_url)
service_metrics.time_queries(engine)
SessionFactory = sessionmaker(bind=engine, expire_on_commit=False)


def create_schema() -> None:
    """Create the tables that do not exist yet; raise only when that keeps failing.

    The API's workers and the Celery worker may start at the same moment and race to create
    the same tables. Each lost race means another process created a table, so after at most
    one retry per table the check finds them all (a real fault still raises at the end).
    """
    attempts = len(Base.metadata.tables) + 1
    for attempt in range(1, attempts + 1):
        try:
            Base.metadata.create_all(engine)
            return
        except DBAPIError:
            if attempt == attempts:
                raise
            logger.info("schema.create_retry", extra={"attempt": attempt})
            time.sleep(0.05 * attempt)


def after_fork() -> None:
    """Drop the pooled connections inherited from a parent process without closing them."""
    engine.dispose(close=False)


def get_session() -> Iterator[Session]:
    """A FastAPI dependency: one session per request, closed afterwards."""
    with SessionFactory() as session:
        yield session


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error (for tasks)."""
    with SessionFactory() as session, session.begin():
        yield session
