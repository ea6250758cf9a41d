"""Health probes for the stack's parts: an HTTP 200, a gRPC health SERVING."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from max_otel.cli._stack_process import Component


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200; never raises."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def grpc_serving(address: str, timeout: float = 2.0) -> bool:
    """True when the gRPC health service at ``address`` says SERVING; never raises."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


def wait_until(component: Component, timeout: float) -> None:
    """Wait until ``component`` is healthy; raise ComponentError with its log tail if not."""
    from max_otel.cli._stack_process import ComponentError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if component.healthy():
            return
        if not component.running():
            raise ComponentError(
                f"{component.name} exited during start-up; last lines of {component.log_path}:\n"
                f"{component.log_tail()}"
            )
        time.sleep(0.2)
    raise ComponentError(
        f"{component.name} not healthy after {timeout:.0f}s; last lines of "
        f"{component.log_path}:\n{component.log_tail()}"
    )
