"""``max-otel processor`` as a real subprocess on free loopback ports, for integration tests.

::

    with ProcessorProcess(forward=hop.url, extra=["--workers", "1"]) as processor:
        processor.endpoint            # 127.0.0.1:PORT for an OTLP exporter or a gRPC channel
        processor.send_signal(signal.SIGHUP)
        processor.wait_for_log("rules reload failed")
    processor.returncode              # after the context: the exit status after SIGTERM
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from max_service_launch.local_servers import free_port

from tests.processors.otlp.engines import TEST_PSEUDONYM_KEY


def processor_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "max_otel.cli", "processor", *arguments]


def processor_environment(**overrides: str) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("MAX_OTEL_", "OTEL_"))
    }
    environment["MAX_OTEL_PSEUDONYM_KEY"] = TEST_PSEUDONYM_KEY
    environment.update(overrides)
    return environment


class ProcessorProcess:
    """One ``max-otel processor`` process; stderr goes to a file that tests can search."""

    def __init__(
        self,
        forward: str,
        extra: list[str] | None = None,
        workers: int = 1,
        environment: dict[str, str] | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.forward = forward
        self.extra = extra or []
        self.workers = workers
        self.environment = environment or processor_environment()
        self.credentials = credentials
        # Lives as long as this object; closed (and removed) when the context ends.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="max-otel-processor-", suffix=".log"
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._final_log: str | None = None
        self.returncode: int | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        """A channel to the processor (TLS with ``credentials`` when given; host localhost)."""
        if self.credentials is None:
            return grpc.insecure_channel(self.endpoint)
        return grpc.secure_channel(f"localhost:{self.port}", self.credentials)

    @property
    def log(self) -> str:
        """Everything the processor wrote so far (kept after the context ends)."""
        if self._final_log is not None:
            return self._final_log
        return Path(self._log.name).read_text(encoding="utf-8", errors="replace")

    def start(self) -> None:
        command = processor_command(
            "--listen",
            self.endpoint,
            "--forward",
            self.forward,
            "--workers",
            str(self.workers),
            "--metrics-listen",
            f"127.0.0.1:{self.metrics_port}",
            "--shutdown-grace",
            "10",
            *self.extra,
        )
        self._process = subprocess.Popen(
            command, env=self.environment, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.wait_until_serving()

    def wait_until_serving(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self.channel() as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    raise RuntimeError(f"processor exited early:\n{self.log}")
                try:
                    response = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                    if response.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"processor not serving after {timeout}s:\n{self.log}")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not logged after {timeout}s:\n{self.log}")

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (children of the processor)."""
        assert self._process is not None
        pid = self._process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
        return [int(child) for child in children.split()]

    def send_signal(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        assert self._process is not None
        self.returncode = self._process.wait(timeout=timeout)
        return self.returncode

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self.returncode = self._process.returncode
        self._process = None

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            self._log.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._final_log = self.log
        self._log.close()
