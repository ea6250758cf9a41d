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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from max_otel.instrumentation.audit.trail import AuditTrail, FailurePolicy

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
    """The process-wide trail (an unconfigured one until :func:`configure_audit_trail`)."""
    global _current
    with _lock:
        if _current is None:
            _current = AuditTrail(None, policy=FailurePolicy.from_environment())
        return _current


def configure_audit_trail(
    database_url: str | None = None, *, policy: FailurePolicy | None = None
) -> AuditTrail:
    """Build the trail from the arguments and environment, make it process-wide, return it."""
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
