"""The sample service's settings, read from ``MAX_*`` environment variables.

Precedence: an explicit argument to :meth:`Settings.from_environment`'s ``env`` mapping, then
the process environment, then the ``_DEFAULT_*`` constants below::

    settings = Settings.from_environment()
    settings.database_url   # "sqlite:///max_service.db" unless MAX_DATABASE_URL is set

Variables (each read once per process, at import of the module that needs it):

- ``MAX_DATABASE_URL``: SQLAlchemy URL; SQLite by default, PostgreSQL as
  ``postgresql+psycopg://user@host:port/db``.
- ``MAX_REDIS_URL``: Redis URL for the cache, the "WebSocket push" channel, and the Celery
  broker and result backend.
- ``MAX_CELERY_QUEUE``: the Celery queue the API sends tasks to and the worker consumes.
- ``MAX_WEBHOOK_SECRET``: shared secret of the ``X-Hub-Signature-256`` webhook signature.
- ``MAX_INTEGRATION_URL``: optional URL the triage task POSTs each assignment to (a CRM);
  unset or empty skips the call.
- ``MAX_INTEGRATION_TIMEOUT``: seconds before that call counts as timed out.
- ``MAX_LOG_LEVEL``: level of the ``max_service`` loggers (DEBUG, INFO, WARNING...).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

DATABASE_URL = "MAX_DATABASE_URL"
REDIS_URL = "MAX_REDIS_URL"
CELERY_QUEUE = "MAX_CELERY_QUEUE"
WEBHOOK_SECRET = "MAX_WEBHOOK_SECRET"
INTEGRATION_URL = "MAX_INTEGRATION_URL"
INTEGRATION_TIMEOUT = "MAX_INTEGRATION_TIMEOUT"
LOG_LEVEL = "MAX_LOG_LEVEL"

_DEFAULT_DATABASE_URL = "sqlite:///max_service.db"
_DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_DEFAULT_CELERY_QUEUE = "max"
# A development secret: production deployments set MAX_WEBHOOK_SECRET to Meta's app secret.
_DEFAULT_WEBHOOK_SECRET = "max-dev-webhook-secret"
_DEFAULT_INTEGRATION_TIMEOUT = 2.0
_DEFAULT_LOG_LEVEL = "INFO"


@dataclass(frozen=True)
class Settings:
    """Everything the API and the worker read from the environment."""

    database_url: str = _DEFAULT_DATABASE_URL
    redis_url: str = _DEFAULT_REDIS_URL
    celery_queue: str = _DEFAULT_CELERY_QUEUE
    webhook_secret: str = _DEFAULT_WEBHOOK_SECRET
    integration_url: str | None = None
    integration_timeout: float = _DEFAULT_INTEGRATION_TIMEOUT
    log_level: str = _DEFAULT_LOG_LEVEL

    def validate(self) -> None:
        """Raise ``ValueError`` naming the variable to fix when a setting is unusable."""
        if not self.database_url:
            raise ValueError(f"{DATABASE_URL} must be a SQLAlchemy URL; got an empty value")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"{REDIS_URL} must be a redis:// URL; got {self.redis_url!r}")
        if not self.celery_queue:
            raise ValueError(f"{CELERY_QUEUE} must be a queue name; got an empty value")
        if not self.webhook_secret:
            raise ValueError(f"{WEBHOOK_SECRET} must be a non-empty secret; got an empty value")
        if self.integration_timeout <= 0:
            raise ValueError(
                f"{INTEGRATION_TIMEOUT} must be a positive number of seconds; "
                f"got {self.integration_timeout!r}"
            )
        if not isinstance(logging.getLevelName(self.log_level), int):
            raise ValueError(
                f"{LOG_LEVEL} must be a logging level such as INFO; got {self.log_level!r}"
            )

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise ``ValueError`` on a bad value."""
        source = os.environ if env is None else env
        timeout_text = source.get(INTEGRATION_TIMEOUT, "")
        try:
            timeout = float(timeout_text) if timeout_text else _DEFAULT_INTEGRATION_TIMEOUT
        except ValueError:
            raise ValueError(
                f"{INTEGRATION_TIMEOUT} must be a number of seconds; got {timeout_text!r}"
            ) from None
        settings = cls(
            database_url=source.get(DATABASE_URL) or _DEFAULT_DATABASE_URL,
            redis_url=source.get(REDIS_URL) or _DEFAULT_REDIS_URL,
            celery_queue=source.get(CELERY_QUEUE) or _DEFAULT_CELERY_QUEUE,
            webhook_secret=source.get(WEBHOOK_SECRET) or _DEFAULT_WEBHOOK_SECRET,
            integration_url=source.get(INTEGRATION_URL) or None,
            integration_timeout=timeout,
            log_level=(source.get(LOG_LEVEL) or _DEFAULT_LOG_LEVEL).upper(),
        )
        settings.validate()
        return settings
