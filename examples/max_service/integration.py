"""The outbound CRM integration: POST each assignment to ``MAX_INTEGRATION_URL``.

Failures never fail the caller: :func:`notify_assignment` logs ``integration.failure`` or
``integration.timeout`` and returns the outcome (``"success"``, ``"failure"``, ``"timeout"``,
or ``"skipped"`` when no URL is set)::

    outcome = notify_assignment({"conversation_id": ..., "customer_phone": ...})
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from max_service.settings import Settings

logger = logging.getLogger(__name__)

_settings = Settings.from_environment()
_ADAPTER = "crm"


def notify_assignment(payload: dict[str, Any]) -> str:
    """Send ``payload`` to the CRM; return the outcome, never raise."""
    url = _settings.integration_url
    if not url:
        return "skipped"
    fields = {"adapter": _ADAPTER, "url": url, "conversation_id": payload.get("conversation_id")}
    logger.info("integration.request", extra=fields)
    started = time.perf_counter()
    try:
        response = httpx.post(url, json=payload, timeout=_settings.integration_timeout)
        response.raise_for_status()
    except httpx.TimeoutException:
        logger.error(
            "integration.timeout", extra={**fields, "timeout": _settings.integration_timeout}
        )
        return "timeout"
    except httpx.HTTPError as error:
        # The exception text holds the URL and, for some errors, the payload sent.
        logger.error("integration.failure", extra={**fields, "error": str(error)})
        return "failure"
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.info(
        "integration.success",
        extra={**fields, "status_code": response.status_code, "duration_ms": duration_ms},
    )
    return "success"
