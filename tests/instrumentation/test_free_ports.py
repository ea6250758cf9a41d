"""Ports for local stacks come from below the ephemeral range, which outbound connections
draw from, so a client socket cannot take one between its choice and the server's bind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from max_otel.cli.free_ports import free_port, port_is_free

pytestmark = pytest.mark.unit


def test_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(port < first_ephemeral for port in ports)
    assert len(ports) > 1  # not one fixed port
    port = ports.pop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", port))
        server.listen()
        assert not port_is_free(port)
