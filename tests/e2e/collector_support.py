"""What the collector e2e tests share: the tools, the config files, background processes.

``bash collector-config/build-tools.sh`` builds ``otelcol-max``, ``jaeger`` and
``composecheck`` into ``$MAX_OTEL_TOOLS_DIR`` (default ``~/.cache/max-otel/bin``);
:func:`tool` skips the calling test, naming that command, when one is missing. Every process
listens on loopback only, on free ports passed through the ``MAX_OTEL_*`` variables the
configs read::

    env = clean_env(MAX_OTEL_COLLECTOR_HEALTH=loopback())
    collector = BackgroundProcess([tool("otelcol-max"), f"--config={BASE_CONFIG}"], env, log)
    collector.start(f"http://{env['MAX_OTEL_COLLECTOR_HEALTH']}/")
    ...
    collector.stop()
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from max_service_launch.local_servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "collector-config"
DOCKER_DIR = ROOT / "docker"
TOOLS_DIR = Path(os.environ.get("MAX_OTEL_TOOLS_DIR", Path.home() / ".cache/max-otel/bin"))
BASE_CONFIG = CONFIG_DIR / "otelcol-max.yaml"
BUILD_COMMAND = "bash collector-config/build-tools.sh"


def tool(name: str) -> str:
    """The path of a built tool; skips the test, naming the build command, when it is missing."""
    path = TOOLS_DIR / name
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not built: run `{BUILD_COMMAND}`")
    return str(path)


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge as the collector merges its --config files: maps key by key, lists replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment without MAX_OTEL_* and OTEL_* settings, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAX_OTEL_", "OTEL_"))}
    return env | overrides


def otelcol_validate(
    configs: Sequence[Path], env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """``otelcol-max validate`` on ``configs`` (merged in order) with ``env``."""
    return subprocess.run(
        [tool("otelcol-max"), "validate", *(f"--config={c}" for c in configs)],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def loopback() -> str:
    """A free address on 127.0.0.1, as ``host:port``."""
    return f"127.0.0.1:{free_port()}"


def http_get(url: str) -> tuple[int, bytes]:
    """Status and body; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` every 0.2s; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


class BackgroundProcess:
    """A binary run in the background, its output in ``log``; start and stop it any number
    of times."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self, health_url: str) -> None:
        """Start and wait until ``health_url`` answers 200; fail with the log if it exits."""
        with open(self.log, "ab") as out:
            self._popen = subprocess.Popen(self.args, env=self.env, stdout=out, stderr=out)

        def healthy() -> bool:
            assert self._popen is not None
            if self._popen.poll() is not None:
                raise AssertionError(f"{self.args} exited:\n{self.log.read_text()[-4000:]}")
            return http_get(health_url)[0] == 200

        wait_until(healthy, 30, f"{health_url} to answer 200")

    def stop(self) -> None:
        """Terminate (kill after 10s); a no-op when not running."""
        if self._popen is not None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
            self._popen = None
