"""One supervised process of the local stack: start it, check it, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path


class ComponentError(RuntimeError):
    """A stack component is missing, failed to start, or did not become healthy."""


class Component:
    """A named process with a health check.

    ``start`` launches it in its own process group with its output in ``<log_dir>/<name>.log``;
    ``stop`` sends SIGTERM to the group and SIGKILL after ``grace`` seconds. ``healthy`` never
    raises.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        health_check: Callable[[], bool],
        description: str,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.description = description
        self._health_check = health_check
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.argv,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def healthy(self) -> bool:
        try:
            return self.running() and self._health_check()
        except Exception:
            return False

    def log_tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the process group at once (fault tests: a crash, not a shutdown)."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()

    def stop(self, grace: float = 15.0) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None
