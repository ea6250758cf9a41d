"""Throwaway Redis and PostgreSQL servers on loopback, in a temporary directory, for the demo,
the tests and the benchmarks.

Each server can be stopped and started again on the same port and data directory, so fault
tests can take a dependency away and bring it back::

    with RedisServer(tmp_path) as redis_server:
        url = redis_server.url            # redis://127.0.0.1:PORT/0
        redis_server.stop(); redis_server.start()

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user that
the Debian package creates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from max_otel.cli.free_ports import free_port

_POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def wait_for_port(port: int, timeout: float = 20.0, host: str = "127.0.0.1") -> None:
    """Block until something accepts TCP connections on host:port; raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in _POSTGRES_BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError(f"{name} not found: install it (bash scripts/setup installs it)")


class _Server:
    """Common start/stop/context-manager behaviour."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

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


class RedisServer(_Server):
    """A redis-server process on 127.0.0.1 with no persistence."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                _find_binary("redis-server"),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None


class PostgresServer(_Server):
    """A PostgreSQL cluster in ``directory``, listening on 127.0.0.1 only.

    The cluster preloads ``pg_stat_statements`` and ``auto_explain`` (the spec's slow-query
    settings) and trusts local connections; it is for tests, never for data.
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self._run_as: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._run_as:
            # The postgres user must reach the directory: pytest's temporary tree is private
            # to root, so as root the cluster lives in a directory of its own under /tmp.
            directory = Path(tempfile.mkdtemp(prefix="max-otel-pg-"))
            directory.chmod(0o755)
        self.directory = directory
        self.port = port or free_port()
        self.data_dir = directory / "data"
        self.socket_dir = directory / "socket"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database as the superuser."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._run_as, *args], check=True, capture_output=True)

    def _initialise(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self._run_as:
            shutil.chown(self.directory, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        self._run(
            _find_binary("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_preload_libraries": "'pg_stat_statements,auto_explain'",
            "log_min_duration_statement": "1000",
            "auto_explain.log_min_duration": "1000",
        }
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initialise()
        self._run(
            _find_binary("pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.directory / "postgres.log"),
            "-w",
            "-t",
            "30",
            "start",
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(_find_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop")
