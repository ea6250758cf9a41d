"""A stand-in for the CRM the sample service's worker calls (``MAX_INTEGRATION_URL``).

A real HTTP server on 127.0.0.1 that records each request (path, headers, JSON body) and
answers with a chosen status, optionally after a delay (for ``integration.timeout``)::

    with CrmEndpoint() as crm:
        env = {"MAX_INTEGRATION_URL": crm.url}
        ...
        call = crm.wait_for_call(lambda call: call.body["conversation_id"] == conversation_id)
        assert call.body["event"] == "conversation.assigned"
        crm.respond_with(503)           # the next calls fail: integration.failure
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class CrmCall:
    """One request the CRM received; ``headers`` keys are lowercase."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class CrmEndpoint:
    """The recording HTTP server (context manager)."""

    def __init__(self) -> None:
        self.calls: list[CrmCall] = []
        self._status = 200
        self._delay = 0.0
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to give the service: ``http://127.0.0.1:PORT/crm/assignments``."""
        if self._server is None:
            raise RuntimeError("the CRM endpoint has no URL until it is started")
        return f"http://127.0.0.1:{self._server.server_address[1]}/crm/assignments"

    def respond_with(self, status: int = 200, *, delay: float = 0.0) -> None:
        """Answer the following requests with ``status`` after ``delay`` seconds."""
        with self._changed:
            self._status, self._delay = status, delay

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        call = CrmCall(
            method=handler.command,
            path=handler.path,
            headers={key.lower(): value for key, value in handler.headers.items()},
            body=body,
        )
        with self._changed:
            status, delay = self._status, self._delay
            self.calls.append(call)
            self._changed.notify_all()
        if delay:
            time.sleep(delay)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"{}")

    def start(self) -> None:
        """Listen on a free loopback port, serving from a daemon thread."""
        endpoint = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for_call(
        self, predicate: Callable[[CrmCall], bool] | None = None, timeout: float = 10.0
    ) -> CrmCall:
        """Return the first call matching ``predicate`` (any call when None), waiting for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for call in self.calls:
                    if predicate is None or predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no matching CRM call among {len(self.calls)} in {timeout}s"
                    )
                self._changed.wait(remaining)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
