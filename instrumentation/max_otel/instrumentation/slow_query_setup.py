"""Slow-query logging on every SQLAlchemy engine of the process, installed by the configurator.

The configurator calls :func:`install_process_slow_query_logging` once it has the process's
redactor; it listens on the ``sqlalchemy.Engine`` class (class-level listeners reach every
engine, those created before and after), with the threshold of
``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS`` (default 1 s)::

    from max_otel.instrumentation.slow_query_setup import install_process_slow_query_logging

    install_process_slow_query_logging(os.environ, redactor)   # True if installed now

Installed at most once per process: a second configure, or a forked child (which inherits
the parent's class-level listeners), installs nothing more. ``MAX_OTEL_SLOW_QUERY_LOGGING=
false`` turns it off. Telemetry never breaks start-up: without SQLAlchemy there is nothing to
install (debug log); any other failure (an invalid threshold...) is logged as one warning and
the service starts without slow-query logging.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from max_otel.instrumentation.environment_variables import FALSE_VALUES, MAX_OTEL_SLOW_QUERY_LOGGING
from max_otel.processors.redaction import Redactor

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_installed: object | None = None
"""The process's ``SlowQueryLogger`` once installed (inherited by forked children)."""


def slow_query_logging_enabled(env: Mapping[str, str]) -> bool:
    """Whether ``MAX_OTEL_SLOW_QUERY_LOGGING`` leaves slow-query logging on (the default)."""
    return env.get(MAX_OTEL_SLOW_QUERY_LOGGING, "").strip().lower() not in FALSE_VALUES


def install_process_slow_query_logging(
    env: Mapping[str, str], redactor: Redactor | None = None
) -> bool:
    """Listen for slow statements on every engine of the process; return True if installed by
    this call. Never raises. ``redactor`` scrubs the logged statements (default: the packaged
    rules)."""
    global _installed
    if not slow_query_logging_enabled(env):
        return False
    with _lock:
        if _installed is not None:
            return False
        try:
            import sqlalchemy
        except ImportError:
            logger.debug("max_otel: SQLAlchemy is not installed; no slow-query logging")
            return False
        try:
            from max_otel.instrumentation.slow_queries import (
                install_slow_query_logging,
                redaction_scrubber,
            )

            _installed = install_slow_query_logging(
                sqlalchemy.Engine, scrubber=redaction_scrubber(redactor)
            )
        except Exception as error:
            logger.warning(
                "max_otel: slow-query logging is off (%s). Fix: correct or unset "
                "MAX_OTEL_SLOW_QUERY_THRESHOLD_MS, or set %s=false",
                error,
                MAX_OTEL_SLOW_QUERY_LOGGING,
            )
            return False
        return True
