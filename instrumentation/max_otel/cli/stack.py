"""``max-otel stack``: the whole pipeline on one machine, as plain processes, no Docker.

``max-otel stack up`` starts Jaeger, Prometheus, the redaction processor and the collector
(``otelcol-max``) with the repository's configs, waits until each is healthy, prints where each
listens, and stops them all (in reverse order) on Ctrl-C or SIGTERM. ``max-otel stack check``
reports the health of a running stack. Python code can run the same stack::

    with LocalStack(StackLayout.from_environment()) as stack:
        ...  # send OTLP to stack.layout.collector_grpc, read traces from stack.layout.jaeger_url

Each part logs to ``<state dir>/logs/<part>.log``. The pseudonym key comes from
``MAX_OTEL_PSEUDONYM_KEY`` / ``MAX_OTEL_PSEUDONYM_KEY_FILE``; if neither is set, the stack makes
one key file in its state directory and keeps it, so pseudonyms stay stable across runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import threading
from pathlib import Path
from types import TracebackType

from max_otel.cli._stack_health import grpc_serving, http_ok, wait_until
from max_otel.cli._stack_layout import StackLayout
from max_otel.cli._stack_process import Component, ComponentError


def _pseudonym_key_environment(state_dir: Path) -> dict[str, str]:
    if os.environ.get("MAX_OTEL_PSEUDONYM_KEY") or os.environ.get("MAX_OTEL_PSEUDONYM_KEY_FILE"):
        return {}
    key_file = state_dir / "pseudonym.key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        key_file.chmod(0o600)
    return {"MAX_OTEL_PSEUDONYM_KEY_FILE": str(key_file)}


def _require_binary(path: Path | str | None, name: str, how: str) -> str:
    if path is None or not Path(path).exists():
        raise ComponentError(f"{name} not found ({path or 'not on PATH'}): {how}")
    return str(path)


def _prometheus_config(layout: StackLayout) -> Path:
    """Write Prometheus's config for this layout (Prometheus does not expand variables)."""
    text = (layout.config_dir / "prometheus.yml").read_text(encoding="utf-8")
    text = text.replace("127.0.0.1:8889", layout.prometheus_exporter)
    text = text.replace("127.0.0.1:8888", layout.collector_telemetry)
    host, _, port = layout.processor_metrics.rpartition(":")
    workers = ", ".join(f'"{host}:{int(port) + i}"' for i in range(_processor_workers()))
    text = text.replace('"127.0.0.1:9464"', workers)
    target = layout.state_dir / "prometheus.yml"
    target.write_text(text, encoding="utf-8")
    return target


def _processor_workers() -> int:
    return max(1, os.cpu_count() or 1)


def stack_components(layout: StackLayout) -> list[Component]:
    """The stack's parts in start order; raise ComponentError if a binary is missing."""
    build = "build it with 'bash collector-config/build-tools.sh' (or 'bash scripts/setup')"
    jaeger = _require_binary(layout.tools_dir / "jaeger", "jaeger", build)
    collector = _require_binary(layout.tools_dir / "otelcol-max", "otelcol-max", build)
    prometheus = _require_binary(
        shutil.which("prometheus"), "prometheus", "install it with 'apt-get install prometheus'"
    )
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    env = {**layout.environment(), **_pseudonym_key_environment(layout.state_dir)}
    return [
        Component(
            "jaeger",
            [jaeger, "--config", str(layout.config_dir / "jaeger.yaml")],
            env,
            lambda: http_ok(f"{layout.jaeger_url}/api/services"),
            f"UI and API http://{layout.jaeger_ui}, OTLP gRPC {layout.jaeger_otlp}",
        ),
        Component(
            "prometheus",
            [
                prometheus,
                f"--config.file={_prometheus_config(layout)}",
                f"--storage.tsdb.path={layout.state_dir / 'prometheus'}",
                f"--web.listen-address={layout.prometheus}",
            ],
            env,
            lambda: http_ok(f"{layout.prometheus_url}/-/ready"),
            f"http://{layout.prometheus}",
        ),
        Component(
            "processor",
            [
                sys.executable,
                "-m",
                "max_otel.cli",
                "processor",
                "--listen",
                layout.processor,
                "--forward",
                f"http://{layout.redacted_grpc}",
                "--workers",
                str(_processor_workers()),
                "--metrics-listen",
                layout.processor_metrics,
            ],
            env,
            lambda: grpc_serving(layout.processor),
            f"OTLP gRPC {layout.processor} -> {layout.redacted_grpc}",
        ),
        Component(
            "collector",
            [collector, "--config", str(layout.config_dir / "otelcol-max.yaml")],
            env,
            lambda: http_ok(f"http://{layout.collector_health}/"),
            f"OTLP gRPC {layout.collector_grpc}, HTTP {layout.collector_http}, "
            f"metrics http://{layout.prometheus_exporter}/metrics",
        ),
    ]


class LocalStack:
    """Starts the stack's components in order and stops them in reverse; a context manager."""

    def __init__(self, layout: StackLayout, start_timeout: float = 60.0) -> None:
        self.layout = layout
        self.components = stack_components(layout)
        self._start_timeout = start_timeout
        self._started: list[Component] = []

    def component(self, name: str) -> Component:
        """The component called ``name`` (jaeger, prometheus, processor, collector)."""
        return next(c for c in self.components if c.name == name)

    def start(self, report: bool = False) -> None:
        """Start every component and wait until healthy; on failure stop what started."""
        log_dir = self.layout.state_dir / "logs"
        try:
            for component in self.components:
                component.start(log_dir)
                self._started.append(component)
                wait_until(component, self._start_timeout)
                if report:
                    print(f"  {component.name:<10} ready  {component.description}", flush=True)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every started component, newest first (SIGTERM, then SIGKILL after 15 s)."""
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _up(layout: StackLayout) -> int:
    stack = LocalStack(layout)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"max-otel stack: starting (logs in {layout.state_dir / 'logs'})", flush=True)
    stack.start(report=True)
    print(
        f"max-otel stack: up. Send OTLP to {layout.collector_grpc}; traces in Jaeger at "
        f"{layout.jaeger_url}. Ctrl-C stops everything.",
        flush=True,
    )
    try:
        while not stopping.wait(1.0):
            for component in stack.components:
                if not component.running():
                    print(f"max-otel stack: {component.name} exited; stopping", file=sys.stderr)
                    stopping.set()
    finally:
        print("max-otel stack: stopping", flush=True)
        stack.stop()
    return 0


def _check(layout: StackLayout) -> int:
    checks = {
        "jaeger": lambda: http_ok(f"{layout.jaeger_url}/api/services"),
        "prometheus": lambda: http_ok(f"{layout.prometheus_url}/-/ready"),
        "processor": lambda: grpc_serving(layout.processor),
        "collector": lambda: http_ok(f"http://{layout.collector_health}/"),
    }
    healthy = True
    for name, check in checks.items():
        ok = check()
        healthy &= ok
        print(f"{name:<10} {'healthy' if ok else 'DOWN'}")
    return 0 if healthy else 1


def main(argv: list[str]) -> int:
    """``max-otel stack up|check``; exit 0 when all is well, 1 when unhealthy, 2 on bad setup."""
    parser = argparse.ArgumentParser(prog="max-otel stack", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "check"], help="start the stack, or check it")
    args = parser.parse_args(argv)
    try:
        layout = StackLayout.from_environment()
        return _up(layout) if args.action == "up" else _check(layout)
    except (ValueError, ComponentError) as error:
        print(f"max-otel stack: {error}", file=sys.stderr)
        return 2


__all__ = ["LocalStack", "main", "stack_components"]
