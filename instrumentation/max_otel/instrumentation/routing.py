"""Bind a ``conversation_id`` path parameter once routing has found it.

Path parameters exist only after routing, when the HTTP server span is already open. The
distro wraps the ``handle`` method of Starlette's and FastAPI's route classes (installed with
the FastAPI instrumentation): when the matched route has a ``conversation_id`` parameter
holding a UUID, it sets the attribute on the open server span (and any other open span around
the handler) and puts the id into baggage for the rest of the request, so the database,
Redis and Celery spans of the handler carry it and tasks receive it::

    instrument_path_parameters()

    @app.get("/conversations/{conversation_id}")
    def get_conversation(conversation_id: uuid.UUID): ...   # every span has conversation_id

The path parameter wins over ``X-Conversation-ID`` and ``baggage`` (it names the resource the
request acts on). An invalid value is ignored with a debug log; the request is unaffected.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import context

from max_otel.instrumentation.baggage_policy import CONVERSATION_ID, normalise_value
from max_otel.instrumentation.conversation import bind

logger = logging.getLogger(__name__)

_WRAPPED = "_max_otel_path_parameters"
_ROUTE_CLASSES = (
    ("starlette.routing", "Route"),
    ("starlette.routing", "WebSocketRoute"),
    ("fastapi.routing", "APIRoute"),
    ("fastapi.routing", "APIWebSocketRoute"),
)

Handle = Callable[[Any, Any, Any, Any], Awaitable[None]]


def _bind_path_parameter(scope: Any) -> object | None:
    try:
        params = scope.get("path_params") if isinstance(scope, dict) else None
        raw = params.get(CONVERSATION_ID) if params else None
        if raw is None:
            return None
        if normalise_value(CONVERSATION_ID, str(raw)) is None:
            logger.debug("path parameter %s is not a UUID; ignored", CONVERSATION_ID)
            return None
        return bind({CONVERSATION_ID: str(raw)})
    except Exception:
        logger.exception("could not bind the %s path parameter", CONVERSATION_ID)
        return None


def _wrap(handle: Handle) -> Handle:
    @functools.wraps(handle)
    async def handle_with_conversation(self: Any, scope: Any, receive: Any, send: Any) -> None:
        token = _bind_path_parameter(scope)
        try:
            await handle(self, scope, receive, send)
        finally:
            if token is not None:
                context.detach(token)  # type: ignore[arg-type]

    setattr(handle_with_conversation, _WRAPPED, True)
    return handle_with_conversation


def _route_classes() -> list[type]:
    classes = []
    for module_name, class_name in _ROUTE_CLASSES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, class_name, None)
        if isinstance(cls, type):
            classes.append(cls)
    return classes


def uninstrument_path_parameters() -> None:
    """Restore the original ``handle`` methods (for tests)."""
    for cls in _route_classes():
        handle = cls.__dict__.get("handle")
        if handle is not None and getattr(handle, _WRAPPED, False):
            cls.handle = handle.__wrapped__  # type: ignore[attr-defined]


def instrument_path_parameters() -> list[str]:
    """Wrap ``handle`` of each importable route class defining its own; idempotent.

    Returns the ``module.Class`` names wrapped by this call.
    """
    wrapped: list[str] = []
    for cls in _route_classes():
        handle = cls.__dict__.get("handle")
        if handle is None or getattr(handle, _WRAPPED, False):
            continue
        cls.handle = _wrap(handle)  # type: ignore[attr-defined]
        wrapped.append(f"{cls.__module__}.{cls.__qualname__}")
    return wrapped
