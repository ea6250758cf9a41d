"""Module-level audit helpers on one process-wide trail, for code that has no trail at hand.

Configure once at start-up, then call the helpers anywhere::

    from max_otel.instrumentation import audit

    audit.configure_audit_trail()           # from MAX_OTEL_AUDIT_DATABASE_URL etc.
    audit.conversation_state_changed("c-42", actor=audit.Actor.user("u-7"),
                                     old_state="open", new_state="closed")
    audit.user_logged_out("u-7")

Each helper has exactly the signature of the :class:`AuditTrail` method of the same name
(typed through ``ParamSpec``). Before ``configure_audit_trail`` the process-wide trail has no
store: every write is a failure handled by the policy from ``MAX_OTEL_AUDIT_REQUIRED``.

Configuration errors surface at start-up, never inside a request: ``configure_audit_trail``
raises ``ValueError`` on a bad ``MAX_OTEL_AUDIT_REQUIRED`` (or a missing URL or key). A helper
called without it reads the variable once, when it builds the unconfigured trail; a bad value
there is logged once (ERROR, ``audit.configuration_invalid``, naming the variable and the fix)
and the default policy applies (fail open): the helper returns ``None`` like any failed write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from max_otel.instrumentation.audit.trail import AuditTrail, FailurePolicy

logger = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")

_lock = threading.Lock()
_current: AuditTrail | None = None


def set_audit_trail(trail: AuditTrail | None) -> None:
    """Make ``trail`` the process-wide trail (``None`` goes back to the unconfigured one)."""
    global _current
    with _lock:
        _current = trail


def get_audit_trail() -> AuditTrail:
    """The process-wide trail (an unconfigured one until :func:`configure_audit_trail`).

    Never raises: building the unconfigured trail with a bad ``MAX_OTEL_AUDIT_REQUIRED``
    logs the error once and uses the default policy.
    """
    global _current
    with _lock:
        if _current is None:
            _current = AuditTrail(None, policy=_policy_or_default())
        return _current


def _policy_or_default() -> FailurePolicy:
    """The policy ``MAX_OTEL_AUDIT_REQUIRED`` asks for; on a bad value, log and use the default."""
    try:
        return FailurePolicy.from_environment()
    except ValueError as error:
        default = FailurePolicy.from_environment({})
        logger.error(
            "audit.configuration_invalid: %s; the default policy (%s) applies until "
            "configure_audit_trail() is called with a valid value",
            error,
            default.value,
        )
        return default


def configure_audit_trail(
    database_url: str | None = None, *, policy: FailurePolicy | None = None
) -> AuditTrail:
    """Build the trail from the arguments and environment, make it process-wide, return it.

    Call it at start-up: it raises ``ValueError`` (``ConfigurationError`` for the key) when
    the URL or the pseudonym key is missing, or ``MAX_OTEL_AUDIT_REQUIRED`` is neither true nor
    false and no ``policy`` is given, so a misconfigured service does not start.
    """
    trail = AuditTrail.from_environment(database_url, policy=policy)
    set_audit_trail(trail)
    return trail


def _on_current(method: Callable[Concatenate[AuditTrail, _P], _R]) -> Callable[_P, _R]:
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return method(get_audit_trail(), *args, **kwargs)

    call.__name__ = method.__name__
    call.__qualname__ = method.__name__
    call.__doc__ = method.__doc__
    return call


conversation_state_changed = _on_current(AuditTrail.conversation_state_changed)
permission_checked = _on_current(AuditTrail.permission_checked)
ai_tool_invoked = _on_current(AuditTrail.ai_tool_invoked)
integration_called = _on_current(AuditTrail.integration_called)
user_logged_in = _on_current(AuditTrail.user_logged_in)
user_logged_out = _on_current(AuditTrail.user_logged_out)
record = _on_current(AuditTrail.record)
