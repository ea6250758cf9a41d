"""The outbound CRM integration: POST each assignment to ``MAX_INTEGRATION_URL``.

Failures never fail the caller: :func:`notify_assignment` logs ``integration.failure`` or
``integration.timeout`` and returns the outcome (``"success"``, ``"failure"``, ``"timeout"``,
or ``"skipped"`` when no URL is set). Each call made is audited with its outcome, duration and
HTTP status (:mod:`max_service.audit_trail`) and measured
(``integration_requests_total{adapter="crm",operation="notify_assignment",status}`` with status
``success`` or ``failed`` for an error or a timeout, and ``integration_latency_seconds``)::

    outcome = notify_assignment({"conversation_id": ..., "customer_phone": ...})
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from max_service import audit_trail, service_metrics
from max_service.settings import Settings

logger = logging.getLogger(__name__)

_settings = Settings.from_environment()
_ADAPTER = service_metrics.CRM_ADAPTER
_OPERATION = "notify_assignment"


def notify_assignment(payload: dict[str, Any]) -> str:
    """Send ``payload`` to the CRM; return the outcome, never raise."""
    url = _settings.integration_url
    if not url:
        return "skipped"
    conversation_id = payload.get("conversation_id")
    fields = {"adapter": _ADAPTER, "url": url, "conversation_id": conversation_id}
    logger.info("integration.request", extra=fields)
    started = time.perf_counter()
    outcome: audit_trail.IntegrationOutcome
    status_code: int | None = None
    try:
        response = httpx.post(url, json=payload, timeout=_settings.integration_timeout)
        status_code = response.status_code
        response.raise_for_status()
    except httpx.TimeoutException:
        logger.error(
            "integration.timeout", extra={**fields, "timeout": _settings.integration_timeout}
        )
        outcome = "timeout"
    except httpx.HTTPError as error:
        # The exception text holds the URL and, for some errors, the payload sent.
        logger.error("integration.failure", extra={**fields, "error": str(error)})
        outcome = "failure"
    else:
        outcome = "success"
    elapsed = time.perf_counter() - started
    service_metrics.integration_request(_OPERATION, succeeded=outcome == "success", seconds=elapsed)
    duration_ms = round(elapsed * 1000, 1)
    if outcome == "success":
        logger.info(
            "integration.success",
            extra={**fields, "status_code": status_code, "duration_ms": duration_ms},
        )
    audit_trail.integration_called(
        adapter=_ADAPTER,
        operation=_OPERATION,
        outcome=outcome,
        duration_ms=duration_ms,
        status_code=status_code,
        conversation_id=str(conversation_id) if conversation_id else None,
    )
    return outcome
