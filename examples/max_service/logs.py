"""Logging set-up of the sample service, the way a Max developer writes it.

Events are logged with the standard ``logging`` module, named after the spec's key events,
with their details in ``extra`` (including customer PII, as real code does; keeping it out of
telemetry is the telemetry kit's job)::

    logger.info("message.received", extra={"conversation_id": ..., "phone": ...})

:func:`configure_logging` sets the level of the ``max_service`` loggers and, in the API, calls
``logging.basicConfig`` for a plain stdout line per event (message and logger name only). Like
any ``basicConfig`` call it does nothing when the root logger already has handlers, e.g. the
telemetry kit's. The Celery worker prints through Celery's own root handler.
"""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str, *, console: bool) -> None:
    """Set the ``max_service`` log level; with ``console``, print to stdout if nothing else does."""
    logging.getLogger("max_service").setLevel(level)
    if console:
        logging.basicConfig(stream=sys.stdout, format=_FORMAT)
