"""Free TCP ports on 127.0.0.1 for local stacks and tests, chosen outside the kernel's
ephemeral range.

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range, which outbound
connections draw from too: between choosing it and the server binding it, a client socket
may take it ("address already in use", seen in CI). Ports below that range are never taken
by outbound connections::

    port = free_port()

Contract: the port was free when checked; outside the ephemeral range when the range can be
read and leaves room below it, else whatever ``bind(0)`` gives.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10000
_ATTEMPTS = 100


def port_is_free(port: int) -> bool:
    """Whether nothing is bound to 127.0.0.1:``port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (see the module)."""
    highest = _below_ephemeral_range()
    if highest is not None:
        for _ in range(_ATTEMPTS):
            port = random.randint(_LOWEST, highest)
            if port_is_free(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def _below_ephemeral_range() -> int | None:
    """The highest port below the ephemeral range, None if unknown or too low."""
    try:
        first = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return first - 1 if first - 1 > _LOWEST + 1000 else None
