"""The demo's stack: its port map, and the pseudonym key a service must share with it.

::

    layout, note = choose_layout(fallback_state_dir=Path(tempfile.mkdtemp()))
    if note:
        print(note)   # "ports busy (127.0.0.1:4317, ...): the demo uses free ports instead"
    stack = LocalStack(layout)
    service_env = pseudonym_key_environment(stack)   # {"MAX_OTEL_PSEUDONYM_KEY_FILE": ...}

The standard map (``StackLayout.from_environment()``: 4317 for OTLP, 16686 for Jaeger...,
or whatever the ``MAX_OTEL_*`` variables say) is what ``max-otel stack up`` uses and what
the docs' links point to. When any of its ports is taken (another stack is running, say),
every part gets a free loopback port instead and its state (persistent queues, pseudonym key)
goes to ``fallback_state_dir``, so the two stacks never share queue files.
"""

from __future__ import annotations

import os
import socket
from dataclasses import fields
from pathlib import Path

from max_otel.cli._stack_layout import StackLayout
from max_otel.cli.stack import LocalStack

KEY_VARIABLES = (
    "MAX_OTEL_PSEUDONYM_KEY",
    "MAX_OTEL_PSEUDONYM_KEY_FILE",
    "MAX_OTEL_PSEUDONYM_KEY_ID",
)


def layout_addresses(layout: StackLayout) -> list[str]:
    """Every ``host:port`` the stack of ``layout`` listens on."""
    addresses: list[str] = []
    for field in fields(layout):
        value = getattr(layout, field.name)
        if not isinstance(value, str):
            continue
        if value.isdigit():
            addresses.append(f"127.0.0.1:{value}")
        elif ":" in value:
            addresses.append(value)
    return addresses


def address_free(address: str) -> bool:
    """True when a TCP socket can bind ``host:port`` now."""
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, int(port)))
        except OSError:
            return False
    return True


def choose_layout(fallback_state_dir: Path) -> tuple[StackLayout, str | None]:
    """The standard layout if all its ports are free, else a free-port one; and a note
    saying which ports were busy (None when the standard layout is used)."""
    layout = StackLayout.from_environment()
    busy = [address for address in layout_addresses(layout) if not address_free(address)]
    if not busy:
        return layout, None
    note = (
        f"ports busy ({', '.join(busy)}), another stack may be running: "
        "the demo uses free ports instead"
    )
    return StackLayout.with_free_ports(fallback_state_dir), note


def pseudonym_key_environment(stack: LocalStack) -> dict[str, str]:
    """The pseudonym-key variables ``stack``'s processor runs with (its key file, or the
    caller's own variables), so an in-process redactor makes the same pseudonyms."""
    processor_env = {**os.environ, **stack.component("processor").env}
    return {name: processor_env[name] for name in KEY_VARIABLES if name in processor_env}


__all__ = [
    "KEY_VARIABLES",
    "address_free",
    "choose_layout",
    "layout_addresses",
    "pseudonym_key_environment",
]
