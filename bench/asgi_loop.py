"""The sample API's ``GET /ping`` in each configuration the instrumentation benchmarks compare.

Shared by ``bench/instrumentation_overhead.py`` (wall-clock and CPU time) and
``bench/instrumentation_callgrind.py`` (instruction counts); not a benchmark itself. It holds
the configurations (``CONFIGS``, plus ``baseline_configs()`` for ``--baseline DIR``), how each
starts the sample API (``sample_api``), the OTLP/gRPC receiver they all export to
(``DiscardReceiver``), and the ASGI loop that calls the app in-process (``loop_command``)::

    with DiscardReceiver() as sink:
        api = sample_api(CONFIGS[2], Path("/tmp/work"), f"http://127.0.0.1:{sink.port}")
        subprocess.run(loop_command(CONFIGS[2], "2000"), env=api.environment("api"))
        # prints us_per_request=... (CPU microseconds per request, cheapest block of 100)

The loop script takes the number of requests, then optionally ``callgrind``: instructions are
then counted only inside its ``functools.reduce`` call (``--toggle-collect=functools_reduce``).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "examples") not in sys.path:
    sys.path.insert(0, str(REPO / "examples"))

import grpc  # noqa: E402
from max_service_launch.local_servers import free_port  # noqa: E402
from max_service_launch.sample_service import SampleService  # noqa: E402

_EXPORT_METHODS = (
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
)


@dataclass(frozen=True)
class Config:
    """One way of running the API."""

    name: str
    spans: int
    instrumented: bool = True
    distro: str = "max_otel"
    env: dict[str, str | None] = field(default_factory=dict)
    baseline: bool = False


CONFIGS = (
    Config("none", 0, instrumented=False),
    Config("plain-distro", 3, distro="plain"),
    Config("max_otel", 1),
    Config("max_otel-3-spans", 3, env={"MAX_OTEL_ASGI_EXCLUDE_SPANS": ""}),
    Config("max_otel-no-span-redaction", 1, env={"MAX_OTEL_REDACT_SPANS": "false"}),
)


def baseline_configs() -> tuple[Config, ...]:
    """The max_otel configurations again, run from the ``--baseline`` tree."""
    return tuple(
        Config(f"{c.name}@baseline", c.spans, env=c.env, baseline=True)
        for c in CONFIGS
        if c.name in ("max_otel", "max_otel-3-spans")
    )


class DiscardReceiver:
    """An OTLP/gRPC endpoint that answers OK without decoding anything."""

    def __init__(self) -> None:
        self.requests = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        handler = grpc.unary_unary_rpc_method_handler(self._export)  # raw bytes in and out
        for method in _EXPORT_METHODS:
            service = method.split("/")[1]
            self._server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, {"Export": handler}),)
            )
        self.port = self._server.add_insecure_port("127.0.0.1:0")

    def _export(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.requests += 1
        return b""

    def __enter__(self) -> DiscardReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(0)


def sample_api(
    config: Config, workdir: Path, endpoint: str, baseline: Path | None = None
) -> SampleService:
    """The sample API (no worker) as ``config`` runs it; not started."""
    env = dict(config.env)
    if config.baseline:
        if baseline is None:
            raise ValueError(f"{config.name} needs the --baseline tree")
        roots = [baseline / "instrumentation", baseline / "processors", REPO / "examples"]
        env["PYTHONPATH"] = ":".join(str(root) for root in roots)
    return SampleService(
        workdir / config.name,
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # /ping never touches Redis
        otlp_endpoint=endpoint,
        instrumented=config.instrumented,
        distro="plain" if config.distro == "plain" else "max_otel",
        worker=False,
        fast_export=False,
        api_args=["--no-access-log", "--log-level", "warning"],
        env=env,
    )


_ASGI_LOOP = """
import asyncio, functools, gc, sys, time
from opentelemetry import trace
from max_service.app import app

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
         "scheme": "http", "path": "/ping", "raw_path": b"/ping", "query_string": b"",
         "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")],
         "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

def flush():  # export every span ended so far (the no-op provider has no force_flush)
    getattr(trace.get_tracer_provider(), "force_flush", lambda: True)()

async def requests(count):
    for _ in range(count):
        await app(dict(SCOPE), receive, send)

async def run(count, block=100):
    await requests(200)
    flush()
    costs = []
    for _ in range(max(1, count // block)):
        started = time.process_time()
        await requests(block)
        flush()
        costs.append((time.process_time() - started) / block * 1e6)
    return min(costs)

if sys.argv[2:] == ["callgrind"]:  # instructions counted inside functools.reduce only
    asyncio.run(requests(300)); flush(); gc.collect(); gc.freeze()
    count = int(sys.argv[1])
    functools.reduce(lambda _a, _i: (asyncio.run(requests(count)), flush()), range(1), None)
else:
    print(f"us_per_request={asyncio.run(run(int(sys.argv[1]))):.1f}", flush=True)
"""


def run_loop(
    config: Config,
    workdir: Path,
    command: list[str],
    environment: dict[str, str],
    timeout: float,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a ``loop_command``, maybe under a profiler) in ``config``'s own
    directory under ``workdir``, output captured; its exit status is not ours to judge (the
    plain distro exits with 1)."""
    (workdir / config.name).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        command,
        env=environment,
        cwd=workdir / config.name,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def loop_command(config: Config, *args: str) -> list[str]:
    """The command running the ASGI loop with ``args`` the way ``config`` starts the API
    (under ``opentelemetry-instrument`` when instrumented); run it with
    ``sample_api(...).environment("api")`` in a directory of its own."""
    if config.instrumented:
        return ["opentelemetry-instrument", "python", "-c", _ASGI_LOOP, *args]
    return [sys.executable, "-c", _ASGI_LOOP, *args]
