"""Environment variables read by the audit trail, each with its meaning and default.

Configuration precedence everywhere: explicit argument, then environment variable, then the
``_DEFAULT_*`` constant beside it.
"""

from __future__ import annotations

AUDIT_DATABASE_URL = "MAX_OTEL_AUDIT_DATABASE_URL"
"""SQLAlchemy or libpq URL of the audit database (``postgresql://max_app@host/max_audit``).

Services connect as the application role (INSERT and SELECT only); ``max-otel audit install``
and ``archive`` need the owner role's URL, given with ``--database-url``. No default."""

AUDIT_REQUIRED = "MAX_OTEL_AUDIT_REQUIRED"
"""``true`` makes audit writes fail closed: an event that cannot be stored raises
``AuditWriteError`` and so fails the request. Default ``false``: the failure is logged and
counted (``audit_write_failures_total``) and the request goes on."""

AUDIT_APP_ROLE = "MAX_OTEL_AUDIT_APP_ROLE"
"""The database role services connect as, granted INSERT and SELECT by ``audit install``.
Default ``max_app``."""

_DEFAULT_AUDIT_REQUIRED = False
_DEFAULT_AUDIT_APP_ROLE = "max_app"
