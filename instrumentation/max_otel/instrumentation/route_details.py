"""Name the server span of a request to a static route without matching every route again.

The FastAPI instrumentation names each HTTP server span ("GET /ping") and sets its
``http.route`` before the request runs, by matching the request against the application's
routes in order (``_get_default_span_details``), the matching Starlette does again right
after. That costs about 3-7 us per route tried on a 2-core machine: 30-80 us per request for
the sample API's 11 routes, more for a larger API. For a route without path parameters
(``/ping``, ``/webhooks/whatsapp``, ``/health``) the answer depends only on the request's
type, method and path, so ``cache_static_route_details`` (installed by the distro with the
FastAPI instrumentation) keeps it::

    cache_static_route_details()        # idempotent; uncache_static_route_details() undoes it

A request is answered from the cache only when all of these hold, else it is matched as
before: an earlier request with the same type, method, path and root path matched a route
whose template is that very path; the application's routes are the same (number and, on
FastAPI, its routes version); and every route matches on type, method and path only (plain
Starlette/FastAPI routes and mounts: no ``Host`` route, no route class with its own
``matches``). Requests with path parameters (``/conversations/{conversation_id}``) are never
cached (their paths are unbounded). The cache holds at most ``max_entries`` answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

_DEFAULT_MAX_ENTRIES = 1024
HTTP_ROUTE = "http.route"

SpanDetails = Callable[[MutableMapping[str, Any]], tuple[str, dict[str, str]]]


def _known_matching() -> tuple[Callable[..., Any], ...]:
    """The ``matches`` functions that look at the scope's type, method and path only."""
    from starlette.routing import Mount, Route, WebSocketRoute

    known: list[Callable[..., Any]] = [Route.matches, WebSocketRoute.matches, Mount.matches]
    try:
        from fastapi import routing

        known += [routing.APIRoute.matches, routing.APIWebSocketRoute.matches]
        known.append(routing._EffectiveRouteContext.matches)
    except (ImportError, AttributeError):  # FastAPI before 0.137: no route contexts
        pass
    return tuple(known)


def _matches_on_path_only(routes: Any) -> bool:
    """Whether matching ``routes`` depends on nothing but the scope's type, method, path."""
    from opentelemetry.instrumentation.fastapi import _flatten_routes

    known = _known_matching()
    for route in _flatten_routes(routes):
        target = getattr(route, "_effective_route", route)  # FastAPI's RouteContext
        if getattr(type(target), "matches", None) not in known:
            return False
        original = getattr(target, "original_route", None)
        if original is not None and type(original).__name__ == "_FrontendRouteGroup":
            return False
    return True


def _routes_token(app: Any) -> tuple[int, int] | None:
    """Changes whenever the application's routes change (None: no routes to look at)."""
    routes = getattr(app, "routes", None)
    if routes is None:
        return None
    version = getattr(getattr(app, "router", None), "_get_routes_version", None)
    return len(routes), version() if callable(version) else 0


class StaticRouteSpanDetails:
    """``lookup`` (the instrumentation's span details), remembered for static routes."""

    def __init__(self, lookup: SpanDetails, max_entries: int = _DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1; got {max_entries}")
        self.lookup = lookup
        self._max_entries = max_entries
        self._answers: dict[tuple[Any, ...], tuple[str, dict[str, str]]] = {}
        self._apps: dict[int, tuple[Any, tuple[int, int], bool]] = {}

    def _cacheable_app(self, app: Any) -> tuple[int, int] | None:
        """The routes token of ``app`` if its answers may be cached, else None."""
        token = _routes_token(app)
        if token is None:
            return None
        known = self._apps.get(id(app))
        if known is None or known[0] is not app or known[1] != token:
            try:
                cacheable = _matches_on_path_only(app.routes)
            except Exception:
                logger.debug("routes not understood; span details are not cached", exc_info=True)
                cacheable = False
            if len(self._apps) >= self._max_entries:
                self._apps.clear()
            self._apps[id(app)] = (app, token, cacheable)
            known = self._apps[id(app)]
        return token if known[2] else None

    def __call__(self, scope: MutableMapping[str, Any]) -> tuple[str, dict[str, str]]:
        app = scope.get("app")
        token = self._cacheable_app(app)
        if token is None:
            return self.lookup(scope)
        key = (
            id(app),
            token,
            scope.get("type"),
            scope.get("method"),
            scope.get("path"),
            scope.get("root_path", ""),
        )
        answer = self._answers.get(key)
        if answer is None:
            answer = self.lookup(scope)
            if answer[1].get(HTTP_ROUTE) != scope.get("path"):
                return answer  # a route with parameters, or no route: not cached
            if len(self._answers) >= self._max_entries:
                self._answers.clear()
            self._answers[key] = (answer[0], dict(answer[1]))
        return answer[0], dict(answer[1])


def cache_static_route_details() -> bool:
    """Make the FastAPI instrumentation name spans of static routes from the cache.

    Takes effect for applications whose middleware stack is built afterwards (on their first
    request). Returns False when the instrumentation is not installed.
    """
    try:
        from opentelemetry.instrumentation import fastapi as instrumentation
    except ImportError:
        return False
    current = instrumentation._get_default_span_details
    if not isinstance(current, StaticRouteSpanDetails):
        # Looked up by name when an application's middleware stack is built (pinned exactly).
        instrumentation._get_default_span_details = StaticRouteSpanDetails(current)
    return True


def uncache_static_route_details() -> None:
    """Restore the instrumentation's own span details (for tests)."""
    try:
        from opentelemetry.instrumentation import fastapi as instrumentation
    except ImportError:
        return
    current = instrumentation._get_default_span_details
    if isinstance(current, StaticRouteSpanDetails):
        instrumentation._get_default_span_details = current.lookup  # type: ignore[assignment]
