"""Real Prometheus and Alertmanager (Debian packages) on loopback, plus two tiny HTTP servers:
a metrics endpoint serving text you set, and a webhook recorder standing in for Slack or
PagerDuty::

    with MetricsEndpoint() as endpoint:
        with PrometheusServer(tmp_path, scrape=[endpoint.target]) as prometheus:
            endpoint.text = 'conversations_active{team="sales",status="queued"} 25\\n'
            wait_for(lambda: prometheus.query("conversations_active"), 30, "the gauge")

Each server keeps its data in its own temporary directory, listens on a free port of
127.0.0.1 only, and is stopped (and waited for) on exit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import yaml
from max_service_launch.local_servers import free_port

T = TypeVar("T")

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER = (
    shutil.which("prometheus-alertmanager")
    or shutil.which("alertmanager")
    or "/usr/bin/prometheus-alertmanager"
)


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``predicate`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as error:  # the server may not answer yet
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what} not seen within {timeout}s (last error: {last_error})")


class _Process:
    """A server subprocess whose output goes to a log file in its directory."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.port = free_port()
        self.log_path = directory / f"{name}.log"
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, argv: Sequence[str]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed with the process
        self._popen = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for(
                lambda: self._alive() and httpx.get(f"{self.url}/-/ready", timeout=1).is_success,
                30,
                f"{self.name} ready on {self.url}",
            )
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"{self.name} did not start; log:\n{self.log_tail()}") from None

    def _alive(self) -> bool:
        if self._popen is None or self._popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited; log:\n{self.log_tail()}")
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self._popen is not None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(timeout=5)
            self._popen = None

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

    def start(self) -> None:
        raise NotImplementedError


class PrometheusServer(_Process):
    """``prometheus`` scraping ``scrape`` targets (host:port) every second.

    ``rule_files`` are loaded as they are; ``alertmanager`` (host:port) receives alerts;
    ``honor_labels`` keeps the targets' own job/instance labels, as the collector job does.
    """

    def __init__(
        self,
        directory: Path,
        *,
        scrape: Sequence[str] = (),
        rule_files: Sequence[Path] = (),
        alertmanager: str | None = None,
        interval: str = "1s",
    ) -> None:
        super().__init__(directory, "prometheus")
        self.config: dict[str, Any] = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": "under-test",
                    "honor_labels": True,
                    "static_configs": [{"targets": list(scrape)}],
                }
            ],
        }
        if alertmanager:
            self.config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]
            }

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config))
        self._spawn(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
        )

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>``; return ``data``; raise ``ValueError`` with the error."""
        body = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (raises ``ValueError`` if it does not parse)."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def firing_alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]


class AlertmanagerServer(_Process):
    """``prometheus-alertmanager`` with ``config`` (a dict written to YAML), no clustering."""

    def __init__(self, directory: Path, config: dict[str, Any]) -> None:
        super().__init__(directory, "alertmanager")
        self.config = config

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config_path = self.directory / "alertmanager.yml"
        config_path.write_text(yaml.safe_dump(self.config))
        self._spawn(
            [
                ALERTMANAGER,
                f"--config.file={config_path}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ]
        )


class _HttpServer:
    """A ThreadingHTTPServer on a free loopback port, run in a daemon thread."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self._server.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.owner.text.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class MetricsEndpoint(_HttpServer):
    """Serves ``text`` (Prometheus text exposition) on every GET; change it any time."""

    handler = _MetricsHandler

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text


class _RecorderHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.owner.record(self.path, body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "success"}')

    def log_message(self, *args: object) -> None:
        pass


class WebhookRecorder(_HttpServer):
    """Accepts every POST with 200 and keeps ``(path, parsed JSON body)`` in ``posts``."""

    handler = _RecorderHandler

    def __init__(self) -> None:
        super().__init__()
        self.posts: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, path: str, body: bytes) -> None:
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = body.decode(errors="replace")
        with self._lock:
            self.posts.append((path, parsed))

    def received(self, path: str) -> list[Any]:
        with self._lock:
            return [body for post_path, body in self.posts if post_path == path]
