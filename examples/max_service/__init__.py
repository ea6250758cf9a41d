"""Max's sample service: the inbound-message flow of a customer-conversation platform.

A FastAPI "core-api" (:mod:`max_service.app`) takes WhatsApp webhooks, stores conversations and
messages with SQLAlchemy, pushes events through Redis and hands work to a Celery worker
(:mod:`max_service.worker`) that triages conversations to a team and an agent. Traces, logs and
the instrumentation libraries' metrics come from running it under ``opentelemetry-instrument``
(no ``opentelemetry`` import in the service); in code it only uses max-otel's service-facing
APIs: the metrics catalogue (:mod:`max_service.service_metrics`, :mod:`max_service.gauges`),
the health routes (:mod:`max_service.readiness`) and the audit trail
(:mod:`max_service.audit_trail`)::

    PYTHONPATH=examples opentelemetry-instrument uvicorn max_service.app:app --port 8000
    PYTHONPATH=examples opentelemetry-instrument \\
        celery -A max_service.worker worker --pool=prefork --concurrency=2 --loglevel=info
    PYTHONPATH=examples python -m max_service.traffic --base-url http://127.0.0.1:8000

Settings come from ``MAX_*`` environment variables, listed in :mod:`max_service.settings`.
"""

from __future__ import annotations

__all__: list[str] = []
