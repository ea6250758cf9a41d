"""Where the local stack's parts listen and where their files live.

Every address is read from the same environment variables the configs in
``collector-config/`` read (``${env:NAME:-default}``), so the stack, the configs and the tests
agree on one port map. Defaults are loopback only::

    layout = StackLayout.from_environment()
    layout.jaeger_ui          # "127.0.0.1:16686"
    layout.environment()      # the variables to pass to the collector, Jaeger and processor
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from max_otel.cli.free_ports import free_port, port_is_free

_DEFAULT_TOOLS_DIR = Path.home() / ".cache" / "max-otel" / "bin"
_DEFAULT_STATE_DIR = Path.home() / ".local" / "state" / "max-otel"

# field name -> (environment variable, default)
_ADDRESSES: dict[str, tuple[str, str]] = {
    "collector_grpc": ("MAX_OTEL_COLLECTOR_GRPC", "127.0.0.1:4317"),
    "collector_http": ("MAX_OTEL_COLLECTOR_HTTP", "127.0.0.1:4318"),
    "collector_health": ("MAX_OTEL_COLLECTOR_HEALTH", "127.0.0.1:13133"),
    "collector_zpages": ("MAX_OTEL_COLLECTOR_ZPAGES", "127.0.0.1:55679"),
    "processor": ("MAX_OTEL_PROCESSOR_ENDPOINT", "127.0.0.1:4320"),
    # worker i of the processor serves its metrics on this port + i
    "processor_metrics": ("MAX_OTEL_PROCESSOR_METRICS_LISTEN", "127.0.0.1:9464"),
    "redacted_grpc": ("MAX_OTEL_REDACTED_GRPC", "127.0.0.1:4319"),
    "jaeger_otlp": ("MAX_OTEL_JAEGER_OTLP", "127.0.0.1:4327"),
    "jaeger_ui": ("MAX_OTEL_JAEGER_UI", "127.0.0.1:16686"),
    "jaeger_query_grpc": ("MAX_OTEL_JAEGER_QUERY_GRPC", "127.0.0.1:16685"),
    "jaeger_health": ("MAX_OTEL_JAEGER_HEALTH", "127.0.0.1:13134"),
    "prometheus_exporter": ("MAX_OTEL_PROMETHEUS_EXPORTER", "127.0.0.1:8889"),
    "prometheus": ("MAX_OTEL_PROMETHEUS", "127.0.0.1:9090"),
}

# field name -> (environment variable, default): ports on 127.0.0.1 given as a bare number
_PORTS: dict[str, tuple[str, str]] = {
    "collector_metrics_port": ("MAX_OTEL_COLLECTOR_METRICS_PORT", "8888"),
    "jaeger_metrics_port": ("MAX_OTEL_JAEGER_METRICS_PORT", "14269"),
}


def _free_port_run(length: int) -> int:
    """First port of ``length`` consecutive ports that are free right now."""
    for _ in range(50):
        first = free_port()
        if first + length < 65536 and all(port_is_free(first + i) for i in range(length)):
            return first
    raise RuntimeError(f"no run of {length} free ports on 127.0.0.1")


def _find_repository_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / "collector-config" / "otelcol-max.yaml").exists():
            return candidate
    return None


@dataclass(frozen=True)
class StackLayout:
    """Addresses (``host:port``) of every part of the local stack, and its directories."""

    collector_grpc: str
    collector_http: str
    collector_health: str
    collector_zpages: str
    processor: str
    processor_metrics: str
    redacted_grpc: str
    jaeger_otlp: str
    jaeger_ui: str
    jaeger_query_grpc: str
    jaeger_health: str
    prometheus_exporter: str
    prometheus: str
    collector_metrics_port: str
    jaeger_metrics_port: str
    config_dir: Path
    tools_dir: Path
    state_dir: Path

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> StackLayout:
        """Read the layout from ``env`` (default ``os.environ``); raise ValueError if unusable.

        ``MAX_OTEL_CONFIG_DIR`` (default: ``collector-config/`` of the repository around the
        current directory), ``MAX_OTEL_TOOLS_DIR`` (default ``~/.cache/max-otel/bin``) and
        ``MAX_OTEL_STATE_DIR`` (default ``~/.local/state/max-otel``) name the directories.
        """
        env = os.environ if env is None else env
        addresses = {name: env.get(var, default) for name, (var, default) in _ADDRESSES.items()}
        for name, address in addresses.items():
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit():
                var = _ADDRESSES[name][0]
                raise ValueError(f"{var} must be HOST:PORT; got {address!r}")
        ports = {name: env.get(var, default) for name, (var, default) in _PORTS.items()}
        for name, port in ports.items():
            if not port.isdigit():
                raise ValueError(f"{_PORTS[name][0]} must be a port number; got {port!r}")
        config_dir = env.get("MAX_OTEL_CONFIG_DIR")
        if config_dir is None:
            root = _find_repository_root(Path.cwd())
            if root is None:
                raise ValueError(
                    "MAX_OTEL_CONFIG_DIR must name the collector-config/ directory (run from "
                    "the max-otel repository, or set it); got nothing"
                )
            config_dir = str(root / "collector-config")
        return cls(
            **addresses,
            **ports,
            config_dir=Path(config_dir),
            tools_dir=Path(env.get("MAX_OTEL_TOOLS_DIR", str(_DEFAULT_TOOLS_DIR))),
            state_dir=Path(env.get("MAX_OTEL_STATE_DIR", str(_DEFAULT_STATE_DIR))),
        )

    def environment(self) -> dict[str, str]:
        """The variables that make the configs in ``config_dir`` use this layout."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        env = {var: values[name] for name, (var, _) in (_ADDRESSES | _PORTS).items()}
        env["MAX_OTEL_QUEUE_DIR"] = str(self.state_dir / "queue")
        env["MAX_OTEL_PROMETHEUS_URL"] = f"http://{self.prometheus}"
        return env

    @classmethod
    def with_free_ports(cls, state_dir: Path, env: Mapping[str, str] | None = None) -> StackLayout:
        """A layout where every part listens on a free 127.0.0.1 port (for tests)."""
        env = dict(os.environ if env is None else env)
        for var, _ in _ADDRESSES.values():
            env[var] = f"127.0.0.1:{free_port()}"
        # the processor's workers take consecutive metrics ports: keep a free run of them
        env["MAX_OTEL_PROCESSOR_METRICS_LISTEN"] = f"127.0.0.1:{_free_port_run(8)}"
        for var, _ in _PORTS.values():
            env[var] = str(free_port())
        env["MAX_OTEL_STATE_DIR"] = str(state_dir)
        return cls.from_environment(env)

    @property
    def collector_telemetry(self) -> str:
        """Address of the collector's own /metrics."""
        return f"127.0.0.1:{self.collector_metrics_port}"

    @property
    def jaeger_url(self) -> str:
        return f"http://{self.jaeger_ui}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{self.prometheus}"
