"""The max-otel demo: a Max service's conversations, traced end to end, with the PII removed.

Starts the local stack (Jaeger, Prometheus, the redaction processor, otelcol-max), a Redis,
and the sample Max service (``core-api`` and its Celery worker ``core-worker``) under
``opentelemetry-instrument`` with the ``max_otel`` distro, exactly as a team runs it. Three
customers write in over WhatsApp with personal data in their messages; an agent console looks
them up with their phone and e-mail in the URL and headers. Then it reads the traces back from
Jaeger's API, draws them, and checks that each flow is one trace across both services,
that ``conversation_id`` is on every span of the conversation's traces, and that none of the
seeded PII is anywhere in what Jaeger stored::

    bash scripts/demo                 # set up, run, stop everything; exit 0 if all checks pass
    bash scripts/demo --keep          # leave it all running until Ctrl-C, to explore
    .venv/bin/python examples/run_demo.py [--keep]    # once set up

See docs/demo.md.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import FrameType

import httpx

_EXAMPLES_DIR = Path(__file__).resolve().parent
if str(_EXAMPLES_DIR) not in sys.path:
    sys.path.insert(0, str(_EXAMPLES_DIR))

from max_service_launch.local_servers import RedisServer  # noqa: E402
from max_service_launch.sample_service import Process, SampleService, ServiceStartError  # noqa: E402

from demo.conversation_traces import (  # noqa: E402
    API_SERVICE,
    WORKER_SERVICE,
    ConversationTraces,
    drive_conversations,
    wait_until_settled,
)
from demo.demo_checks import CheckResult, conversation_checks, pii_check  # noqa: E402
from demo.demo_stack import choose_layout, pseudonym_key_environment  # noqa: E402
from demo.jaeger_api import JaegerApi, JaegerApiError, JaegerTrace, stored_text  # noqa: E402
from demo.seeded_pii import CAPTURE_HEADERS_ENV  # noqa: E402
from demo.trace_checks import CONVERSATION_ID, spans_without  # noqa: E402
from demo.trace_tree import trace_tree_lines  # noqa: E402
from max_otel.cli._stack_process import ComponentError  # noqa: E402
from max_otel.cli.stack import LocalStack  # noqa: E402

_SETTLE_TIMEOUT = 45.0
_SHOWN_ATTRIBUTES = (
    "http.target",
    "http.url",
    "http.request.header.x_customer_phone",
    "http.request.header.authorization",
)


def _section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _trace_line(trace: JaegerTrace, jaeger: JaegerApi) -> str:
    return (
        f"    {trace.root().name:<47} {len(trace.spans):>2} spans "
        f"{trace.duration_us / 1000:7.1f} ms  {jaeger.ui_link(trace.trace_id)}"
    )


def _show_conversation(item: ConversationTraces, jaeger: JaegerApi, full: bool) -> None:
    """Print a conversation's traces: the inbound message and the agent reply as trees when
    ``full``, everything else one line per trace."""
    run = item.run
    print(f"\nConversation {run.conversation_id}  ({run.customer.name}, {run.customer.phone})")
    # the inbound trace is also among the tagged ones now that it carries conversation_id
    unique = {t.trace_id: t for t in ([item.inbound] if item.inbound else []) + list(item.tagged)}
    traces = list(unique.values())
    if not full:
        print("\n".join(_trace_line(trace, jaeger) for trace in traces))
        return
    reply = next((t for t in item.tagged if WORKER_SERVICE in t.services), None)
    shown = {t.trace_id for t in (item.inbound, reply) if t is not None}
    for label, trace in (("Inbound message", item.inbound), ("Agent reply", reply)):
        if trace is not None:
            print(f"  {label}: {jaeger.ui_link(trace.trace_id)}")
            print("\n".join(trace_tree_lines(trace, indent="    ")))
    if item.inbound is not None:
        covered = len(item.inbound.spans) - len(spans_without(item.inbound, CONVERSATION_ID))
        print(f"  ({CONVERSATION_ID} on {covered}/{len(item.inbound.spans)} spans of the inbound")
        print("   message, bound by the webhook once it found the conversation)")
    print(f"  Other traces with {CONVERSATION_ID}={run.conversation_id}:")
    print("\n".join(_trace_line(t, jaeger) for t in traces if t.trace_id not in shown))


def _show_redacted_values(found: list[ConversationTraces]) -> None:
    """Print what Jaeger holds where the console lookup put PII (URL query, headers)."""
    for item in found[:1]:
        for trace in item.tagged:
            root = trace.root()
            if "http.request.header.x_customer_phone" not in root.tags:
                continue
            print(f"  {root.name} of {item.run.customer.name}'s console lookup, as stored:")
            for key in _SHOWN_ATTRIBUTES:
                if key in root.tags:
                    print(f"    {key} = {root.tags[key]}")
            return
    print("  (the console lookup's span was not found)")


def _all_stored(jaeger: JaegerApi, since_us: int) -> list[JaegerTrace]:
    traces: dict[str, JaegerTrace] = {}
    for service in jaeger.services():
        for trace in jaeger.find_traces(service, start_us=since_us, limit=10_000):
            traces[trace.trace_id] = trace
    return list(traces.values())


def _log_sizes(stack: LocalStack) -> dict[Path, int]:
    """Current size of each component's log (they are appended to across runs)."""
    log_dir = stack.layout.state_dir / "logs"
    paths = [log_dir / f"{component.name}.log" for component in stack.components]
    return {path: path.stat().st_size if path.exists() else 0 for path in paths}


def _log_text(since: dict[Path, int]) -> str:
    """What the components logged after ``since`` (from :func:`_log_sizes`)."""
    texts = []
    for path, offset in since.items():
        if path.exists():
            with path.open("rb") as log:
                log.seek(offset)
                texts.append(log.read().decode(errors="replace"))
    return "\n".join(texts)


def _wait_for_interrupt(stack: LocalStack, service: SampleService, jaeger: JaegerApi) -> None:
    _section("Still running (--keep): Ctrl-C stops everything")
    print(f"  Jaeger API      {jaeger.base_url}/api/services")
    print(
        f"  sample service  {service.base_url}  (more traffic: PYTHONPATH=examples "
        f"{sys.executable} -m max_service.traffic --base-url {service.base_url} "
        f"--secret {service.webhook_secret})"
    )
    print(f"  send OTLP to    {stack.layout.collector_grpc}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)


def run(keep: bool, workdir: Path) -> bool:
    """Run the demo in ``workdir``; True when every check passed."""
    demo_start_us = time.time_ns() // 1000
    with ExitStack() as cleanup:
        _section("Stack")
        layout, note = choose_layout(workdir / "stack")
        if note:
            print(f"  {note}")
        stack = LocalStack(layout)
        print(f"  logs in {layout.state_dir / 'logs'}", flush=True)
        log_sizes = _log_sizes(stack)
        stack.start(report=True)
        cleanup.callback(stack.stop)
        jaeger = JaegerApi(layout.jaeger_url)

        _section("Sample Max service")
        redis = cleanup.enter_context(RedisServer(workdir / "redis"))
        service = SampleService(
            workdir / "service",
            redis_url=redis.url,
            # Relative to the service's working directory: short database span names.
            database_url="sqlite:///max_service.db",
            otlp_endpoint=f"http://{layout.collector_grpc}",
            distro="max_otel",
            webhook_secret=secrets.token_hex(16),
            pseudonym_key=None,
            env={**pseudonym_key_environment(stack), **CAPTURE_HEADERS_ENV},
        )
        cleanup.enter_context(service)
        processes: tuple[tuple[Process, str], ...] = (
            ("api", API_SERVICE),
            ("worker", WORKER_SERVICE),
        )
        for process, name in processes:
            command = " ".join(service.command(process))
            print(f"  {name:<12} OTEL_SERVICE_NAME={name} {command}")
        print(f"  distro max_otel, OTLP to http://{layout.collector_grpc}, Redis {redis.url}")

        _section("Conversations (PII in messages, URL query and headers)")
        runs = drive_conversations(service.base_url, service.webhook_secret)
        for conversation in runs:
            customer = conversation.customer
            print(f"  {customer.name:<13} {customer.phone:<15} -> {conversation.conversation_id}")

        _section("Traces in Jaeger")
        started = time.monotonic()
        found = wait_until_settled(jaeger, runs, timeout=_SETTLE_TIMEOUT)
        print(f"  (all stored {time.monotonic() - started:.1f}s after the last request)")
        for index, item in enumerate(found):
            _show_conversation(item, jaeger, full=index == 0)

        _section("Where the seeded PII went")
        _show_redacted_values(found)

        _section("Checks")
        stored = _all_stored(jaeger, demo_start_us)
        results: list[CheckResult] = [
            *conversation_checks(found),
            pii_check(stored_text(stored), f"what Jaeger stored ({len(stored)} traces)"),
            pii_check(_log_text(log_sizes), "the stack's logs (collector, processor, Jaeger...)"),
        ]
        for result in results:
            print(result.line())
        passed = all(result.passed for result in results)

        _section("Jaeger")
        first = found[0].inbound or found[0].tagged[0]
        print(f"  trace link   {jaeger.ui_link(first.trace_id)}")
        print(f"  same, JSON   {jaeger.base_url}/api/traces/{first.trace_id}")
        print(
            "  This Jaeger is built from its Go module, which serves a placeholder page\n"
            "  instead of the UI; the /api/... endpoints above are the ones the UI uses.\n"
            "  For the UI itself, run the compose file's Jaeger image (docker/compose.yaml,\n"
            "  jaegertracing/jaeger) with collector-config/jaeger.yaml."
        )
        print(f"\nResult: {'all checks passed' if passed else 'SOME CHECKS FAILED'}")
        if keep:
            _wait_for_interrupt(stack, service, jaeger)
        return passed


def main(argv: list[str] | None = None) -> int:
    """Run the demo; 0 when every check passed, 1 otherwise (set-up failures included)."""
    parser = argparse.ArgumentParser(prog="run_demo.py", description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="max-otel-demo-"))
    print("max-otel demo: a Max service's conversations, traced end to end, PII removed")
    passed = False
    try:
        passed = run(args.keep, workdir)
    except (
        ComponentError,
        ServiceStartError,
        JaegerApiError,
        httpx.HTTPError,
        TimeoutError,
        ValueError,
    ) as error:
        print(f"\nmax-otel demo: FAILED: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nmax-otel demo: interrupted", file=sys.stderr)
    if passed:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"max-otel demo: logs and state kept in {workdir}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
