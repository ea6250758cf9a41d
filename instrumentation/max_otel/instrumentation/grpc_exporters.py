"""Adjustments to the OTLP/gRPC exporters for forking servers and for stopping processes.

- ``gate_grpc_calls(exporter)``: each ``Export`` RPC runs inside the ``FORK_GATE``, so a
  fork never happens while a thread is inside gRPC (gRPC skips its fork handlers then, and
  the child can hang on its first RPC). Only the RPC is gated, not the retry back-off, so a
  collector that is down does not hold up a fork.
- ``abort_retries(exporter)``: a process that is exiting makes one export attempt per batch
  instead of retrying for up to ``OTEL_EXPORTER_OTLP_TIMEOUT`` seconds per signal (with the
  collector down, uvicorn or a Celery worker would otherwise take half a minute to stop).

Both rely on attributes of ``OTLPExporterMixin`` (``_stub``, ``_client``, ``_channel``,
``_shutdown_in_progress``; the exporter is pinned exactly) and leave any other exporter alone::

    exporter = gate_grpc_calls(OTLPSpanExporter())
    atexit.register(abort_retries, exporter)
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from max_otel.instrumentation.fork_gate import FORK_GATE

E = TypeVar("E")


class _GatedClient:
    """A gRPC stub whose ``Export`` runs inside the fork gate."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def Export(self, *args: Any, **kwargs: Any) -> Any:
        FORK_GATE.enter()
        try:
            return self._client.Export(*args, **kwargs)
        finally:
            FORK_GATE.leave()


class _GatedStub:
    """Builds gated stubs: stands in for the stub class the exporter re-creates on reconnect."""

    def __init__(self, stub: Any) -> None:
        self.stub = stub

    def __call__(self, channel: Any) -> _GatedClient:
        return _GatedClient(self.stub(channel))


def gate_grpc_calls(exporter: E) -> E:
    """Make ``exporter``'s RPCs run inside the fork gate (no-op for non-gRPC exporters)."""
    stub = getattr(exporter, "_stub", None)
    channel = getattr(exporter, "_channel", None)
    if stub is None or channel is None or isinstance(stub, _GatedStub):
        return exporter
    gated = _GatedStub(stub)
    exporter._stub = gated  # type: ignore[attr-defined]
    exporter._client = gated(channel)  # type: ignore[attr-defined]
    return exporter


def abort_retries(exporter: object) -> None:
    """Stop ``exporter`` retrying: its current and next exports make one attempt only."""
    event = getattr(exporter, "_shutdown_in_progress", None)
    if isinstance(event, threading.Event):
        event.set()
