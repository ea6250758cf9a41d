"""The resource attributes the configurator adds when the user did not set them.

- ``deployment.environment.name`` from ``MAX_OTEL_ENVIRONMENT`` (default ``development``);
- ``service.version`` from ``MAX_OTEL_SERVICE_VERSION`` (default ``unknown``);
- ``service.name``: only when neither ``OTEL_SERVICE_NAME`` nor ``OTEL_RESOURCE_ATTRIBUTES``
  names the service: then ``unknown_service:<program>`` (``unknown_service:celery``) and one
  warning that says to set ``OTEL_SERVICE_NAME``, instead of a silent ``unknown_service``.

``service.instance.id`` comes from the SDK (a random UUID per process, renewed in a forked
child, so each Celery or gunicorn worker process is its own instance). Values set through
``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` always win::

    attributes = resource_defaults(os.environ, sys.argv)
    _initialize_components(resource_attributes=attributes, ...)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from max_otel.instrumentation.environment_variables import (
    _DEFAULT_ENVIRONMENT,
    _DEFAULT_SERVICE_VERSION,
    MAX_OTEL_ENVIRONMENT,
    MAX_OTEL_SERVICE_VERSION,
)

logger = logging.getLogger(__name__)

SERVICE_NAME = "service.name"
SERVICE_VERSION = "service.version"
DEPLOYMENT_ENVIRONMENT_NAME = "deployment.environment.name"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"


def configured_resource_keys(env: Mapping[str, str]) -> set[str]:
    """Attribute keys the user set through ``OTEL_RESOURCE_ATTRIBUTES``/``OTEL_SERVICE_NAME``."""
    keys = set()
    for pair in env.get(OTEL_RESOURCE_ATTRIBUTES, "").split(","):
        key, separator, value = pair.partition("=")
        if separator and key.strip() and value.strip():
            keys.add(unquote(key.strip()))
    if env.get(OTEL_SERVICE_NAME, "").strip():
        keys.add(SERVICE_NAME)
    return keys


def program_name(argv: Sequence[str]) -> str:
    """``uvicorn`` for ``/venv/bin/uvicorn``; ``python`` when unknown."""
    name = os.path.basename(argv[0]) if argv and argv[0] else ""
    if name in ("", "-c", "-m"):
        return "python"
    return name.removesuffix(".py")


def resource_defaults(env: Mapping[str, str], argv: Sequence[str]) -> dict[str, str]:
    """Resource attributes to pass to the SDK; warns once when the service has no name."""
    configured = configured_resource_keys(env)
    defaults = {
        DEPLOYMENT_ENVIRONMENT_NAME: env.get(MAX_OTEL_ENVIRONMENT, "").strip()
        or _DEFAULT_ENVIRONMENT,
        SERVICE_VERSION: env.get(MAX_OTEL_SERVICE_VERSION, "").strip() or _DEFAULT_SERVICE_VERSION,
    }
    if SERVICE_NAME not in configured:
        fallback = f"unknown_service:{program_name(argv)}"
        defaults[SERVICE_NAME] = fallback
        logger.warning(
            "max_otel: no service name: this process reports as %r. Fix: set %s (e.g. %s=core-api)",
            fallback,
            OTEL_SERVICE_NAME,
            OTEL_SERVICE_NAME,
        )
    return {key: value for key, value in defaults.items() if key not in configured}
