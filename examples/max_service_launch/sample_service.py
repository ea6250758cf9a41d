"""Run the sample Max service (``examples/max_service``) exactly as users start it.

Two subprocesses, with ``PYTHONPATH=examples``::

    opentelemetry-instrument uvicorn max_service.app:app --host 127.0.0.1 --port P
    opentelemetry-instrument celery -A max_service.worker worker --pool=prefork \\
        --concurrency=2 --loglevel=info

(without ``opentelemetry-instrument`` when ``instrumented=False``; ``pool`` picks another
Celery pool). The environment is this process's minus every ``OTEL_*`` and ``MAX_*`` variable,
plus the service's settings, plus (instrumented)
``OTEL_PYTHON_DISTRO``/``OTEL_PYTHON_CONFIGURATOR`` chosen by ``distro`` (always both: with two
distros installed the first found would win), ``OTEL_SERVICE_NAME`` per process, the OTLP
endpoint, a test pseudonym key and, with ``fast_export``, short export intervals; ``env``
overrides all of it (a None value removes a variable)::

    with OtlpReceiver() as receiver, SampleService(
        tmp_path, redis_url=redis_server.url, otlp_endpoint=receiver.endpoint, distro="plain"
    ) as service:
        response = service.post_webhook("+5511987654321", "my card is 4111 1111 1111 1111")
        conversation_id = response.json()["conversation_ids"][0]
        service.wait_until_assigned(conversation_id)
        assert not any("4111" in line for line in service.service_stdout_lines())

Start-up waits until ``GET /ping`` answers and the worker logs ``celery@... ready.``; each
process's stdout and stderr go to files in ``workdir``. Stopping sends SIGTERM and waits (so
Celery's forked children shut down and can flush), then kills what is left of the process
group. Each instance uses its own Celery queue, so instances sharing a Redis never take each
other's tasks.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

import httpx
import sqlalchemy

from max_service import traffic
from max_service_launch.local_servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO_ROOT / "examples"

Process = Literal["api", "worker"]
Distro = Literal["max_otel", "plain"]

# OTEL_PYTHON_DISTRO / OTEL_PYTHON_CONFIGURATOR entry-point names of each distro.
DISTROS: dict[str, tuple[str, str]] = {
    "max_otel": ("max_otel", "max_otel"),
    "plain": ("distro", "configurator"),  # opentelemetry-distro
}
TEST_PSEUDONYM_KEY = "test-only-pseudonym-key-0123456789abcdef"
TEST_WEBHOOK_SECRET = "test-webhook-secret"
_FAST_EXPORT = {
    "OTEL_BSP_SCHEDULE_DELAY": "200",
    "OTEL_BLRP_SCHEDULE_DELAY": "200",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
}
_WORKER_READY = re.compile(r"celery@\S+ ready\.")
_BIN_DIR = Path(sys.executable).parent


class ServiceStartError(RuntimeError):
    """A process of the sample service exited or did not become ready in time."""


class SampleService:
    """The sample service's API (and, unless ``worker=False``, its worker); context manager."""

    def __init__(
        self,
        workdir: Path,
        *,
        redis_url: str,
        database_url: str | None = None,
        otlp_endpoint: str | None = None,
        instrumented: bool = True,
        distro: Distro = "max_otel",
        api_service_name: str = "core-api",
        worker_service_name: str = "core-worker",
        webhook_secret: str = TEST_WEBHOOK_SECRET,
        pseudonym_key: str | None = TEST_PSEUDONYM_KEY,
        fast_export: bool = True,
        worker: bool = True,
        concurrency: int = 2,
        pool: str = "prefork",
        api_args: Sequence[str] = (),
        worker_args: Sequence[str] = (),
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 20.0,
    ) -> None:
        if distro not in DISTROS:
            raise ValueError(f"distro must be one of {sorted(DISTROS)}; got {distro!r}")
        self.workdir = workdir
        self.redis_url = redis_url
        self.database_url = database_url or f"sqlite:///{workdir / 'max_service.db'}"
        self.otlp_endpoint = otlp_endpoint
        self.instrumented = instrumented
        self.distro = distro
        self.webhook_secret = webhook_secret
        self.port = port or free_port()
        self.celery_queue = f"max-test-{uuid.uuid4().hex[:12]}"
        self._service_names: dict[Process, str] = {
            "api": api_service_name,
            "worker": worker_service_name,
        }
        self._pseudonym_key = pseudonym_key
        self._fast_export = fast_export
        self._with_worker = worker
        self._concurrency = concurrency
        self._pool = pool
        self._extra_args: dict[Process, Sequence[str]] = {"api": api_args, "worker": worker_args}
        self._env_overrides = dict(env or {})
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._processes: dict[Process, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []
        self.returncodes: dict[Process, int] = {}

    # -- environment and commands ------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> dict[Process, int]:
        """Process ids of the running processes (each also leads its own process group)."""
        return {process: popen.pid for process, popen in self._processes.items()}

    def environment(self, process: Process) -> dict[str, str]:
        """The exact environment ``process`` is started with."""
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "MAX_")) and key != "PYTHONPATH"
        }
        environment.update(
            PATH=f"{_BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(EXAMPLES_DIR),
            PYTHONUNBUFFERED="1",
            MAX_DATABASE_URL=self.database_url,
            MAX_REDIS_URL=self.redis_url,
            MAX_CELERY_QUEUE=self.celery_queue,
            MAX_WEBHOOK_SECRET=self.webhook_secret,
        )
        if self.instrumented:
            distro, configurator = DISTROS[self.distro]
            environment.update(
                OTEL_PYTHON_DISTRO=distro,
                OTEL_PYTHON_CONFIGURATOR=configurator,
                OTEL_SERVICE_NAME=self._service_names[process],
            )
            if self.otlp_endpoint:
                environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
            if self._pseudonym_key:
                environment["MAX_OTEL_PSEUDONYM_KEY"] = self._pseudonym_key
            if self._fast_export:
                environment.update(_FAST_EXPORT)
        for key, value in self._env_overrides.items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return environment

    def command(self, process: Process) -> list[str]:
        """The command line of ``process``, as a user types it."""
        if process == "api":
            argv = ["uvicorn", "max_service.app:app", "--host", "127.0.0.1"]
            argv += ["--port", str(self.port)]
        else:
            argv = ["celery", "-A", "max_service.worker", "worker", f"--pool={self._pool}"]
            argv += [f"--concurrency={self._concurrency}", "--loglevel=info"]
        argv += list(self._extra_args[process])
        return ["opentelemetry-instrument", *argv] if self.instrumented else argv

    # -- life cycle ---------------------------------------------------------------------------

    def _spawn(self, process: Process) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        stdout = open(self.output_path(process, "stdout"), "ab")  # noqa: SIM115
        stderr = open(self.output_path(process, "stderr"), "ab")  # noqa: SIM115
        self._files += [stdout, stderr]
        self._processes[process] = subprocess.Popen(
            self.command(process),
            cwd=self.workdir,
            env=self.environment(process),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )

    def _check_alive(self, process: Process) -> None:
        returncode = self._processes[process].poll()
        if returncode is not None:
            raise ServiceStartError(
                f"{process} exited with status {returncode} during start-up:\n"
                + self.output_tail(process)
            )

    def _wait_for_api(self, deadline: float) -> None:
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                self._check_alive("api")
                try:
                    if client.get("/ping").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise ServiceStartError("api did not answer /ping in time:\n" + self.output_tail("api"))

    def _wait_for_worker(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive("worker")
            if any(_WORKER_READY.search(line) for line in self._lines("worker")):
                return
            time.sleep(0.1)
        raise ServiceStartError(
            "worker did not log 'celery@... ready.' in time:\n" + self.output_tail("worker")
        )

    def start(self) -> None:
        """Start the API and the worker; return once both are ready (or raise ServiceStartError).

        On failure every process started is stopped again before the error is raised.
        """
        deadline = time.monotonic() + self._startup_timeout
        try:
            self._spawn("api")
            if self._with_worker:
                self._spawn("worker")
            self._wait_for_api(deadline)
            if self._with_worker:
                self._wait_for_worker(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM both processes, wait for each (then SIGKILL its group); keep exit codes."""
        processes: tuple[Process, ...] = ("api", "worker")
        running = {p: self._processes.pop(p) for p in processes if p in self._processes}
        for popen in running.values():
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
        for process, popen in running.items():
            self.returncodes[process] = _reap(popen, self._stop_timeout)
        for file in self._files:
            file.close()
        self._files.clear()

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

    # -- output -------------------------------------------------------------------------------

    def output_path(self, process: Process, stream: Literal["stdout", "stderr"]) -> Path:
        """The file ``process``'s ``stream`` is written to."""
        return self.workdir / f"{process}.{stream}"

    def _read_lines(self, process: Process, stream: Literal["stdout", "stderr"]) -> list[str]:
        path = self.output_path(process, stream)
        if not path.exists():
            return []
        return path.read_text(encoding="utf-8", errors="replace").splitlines()

    def _lines(self, process: Process) -> list[str]:
        return self._read_lines(process, "stdout") + self._read_lines(process, "stderr")

    def service_stdout_lines(self, process: Process | None = None) -> list[str]:
        """Lines printed on stdout by ``process`` (both, API first, when None)."""
        processes: tuple[Process, ...] = ("api", "worker") if process is None else (process,)
        return [line for p in processes for line in self._read_lines(p, "stdout")]

    def service_stderr_lines(self, process: Process | None = None) -> list[str]:
        """Lines printed on stderr by ``process`` (both, API first, when None)."""
        processes: tuple[Process, ...] = ("api", "worker") if process is None else (process,)
        return [line for p in processes for line in self._read_lines(p, "stderr")]

    def output_tail(self, process: Process, lines: int = 60) -> str:
        """The last lines of ``process``'s stdout and stderr, for failure messages."""
        out = "\n".join(self._read_lines(process, "stdout")[-lines:])
        err = "\n".join(self._read_lines(process, "stderr")[-lines:])
        return f"--- {process} stdout ---\n{out}\n--- {process} stderr ---\n{err}"

    def wait_for_output(self, pattern: str, process: Process, timeout: float = 10.0) -> str:
        """Return the first line of ``process``'s output matching the regex ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self._lines(process):
                if regex.search(line):
                    return line
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no {process} output matched {pattern!r} after {timeout}s:\n"
                    + self.output_tail(process)
                )
            time.sleep(0.1)

    # -- talking to the service ---------------------------------------------------------------

    def client(self, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client for the API (close it, or use it in a ``with``)."""
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def post_webhook(
        self,
        phone: str,
        text: str,
        customer_name: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST one text message as a correctly signed WhatsApp webhook (extra ``headers``)."""
        with self.client() as client:
            client.headers.update(headers or {})
            return traffic.send_webhook(client, self.webhook_secret, phone, text, customer_name)

    def wait_until_assigned(self, conversation_id: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll the API until the worker assigned the conversation; return it. The
        ``TimeoutError`` carries the tail of the worker's output."""
        with self.client() as client:
            try:
                return traffic.wait_until_assigned(client, conversation_id, timeout)
            except TimeoutError as error:
                raise TimeoutError(f"{error}\n{self.output_tail('worker')}") from error

    def drive_traffic(self, rounds: int = 1) -> list[str]:
        """Run :func:`max_service.traffic.drive_conversations`; return the conversation ids."""
        return traffic.drive_conversations(self.base_url, self.webhook_secret, rounds=rounds)


def _reap(popen: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait up to ``timeout`` s for ``popen`` (then SIGKILL it), then end the rest of its group."""
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(popen.pid)
        popen.wait(timeout=10)
    # Forked children (Celery's pool) outlive a killed parent: end the rest of the group.
    _kill_group(popen.pid)
    return popen.returncode


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """Create a fresh, empty database on the server of ``server_url``; yield its URL; drop it.

    ``server_url`` is a superuser SQLAlchemy URL such as ``PostgresServer.url``.
    """
    name = f"max_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        url = sqlalchemy.make_url(server_url).set(database=name)
        yield url.render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
