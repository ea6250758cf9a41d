"""Scale-out: one otelcol-max balancing its ingress over two redaction processor replicas.

The collector runs with ``collector-config/processor-replicas.example.yaml`` on top of its
config, as docs/scale-out.md describes: the redaction exporter's endpoint is a ``dns:``
gRPC target and the ``round_robin`` balancer spreads export requests over every address the
name resolves to. Here the name is served by a small DNS server on loopback (the target
names it: ``dns://127.0.0.1:PORT/NAME:PORT``) with two addresses, 127.0.0.1 and 127.0.0.2;
replica A listens on the first, replica B on the second, same port. Each replica's own
metrics endpoint tells how many spans it redacted.
"""

from __future__ import annotations

import socket
import struct
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from max_service_launch.local_servers import free_port

from demo.jaeger_api import JaegerApi, stored_text, wait_for
from demo.seeded_pii import find_seeded
from max_otel.cli._stack_health import grpc_serving
from max_otel.cli._stack_layout import StackLayout
from max_otel.cli._stack_process import Component
from max_otel.cli.stack import LocalStack
from tests.e2e.conftest import SpanSender, stored_span_ids, stored_traces

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAY = REPO_ROOT / "collector-config" / "processor-replicas.example.yaml"
REPLICA_NAME = "processor-replicas.max-otel.test"
REPLICA_HOSTS = ("127.0.0.1", "127.0.0.2")
_DNS_TTL_SECONDS = 5
_ARRIVAL_TIMEOUT = 45.0


class LoopbackDns:
    """A UDP DNS server on 127.0.0.1 answering every A query with ``addresses``.

    Other query types (AAAA, TXT) get an empty answer. Only what gRPC's resolver needs.
    """

    def __init__(self, addresses: tuple[str, ...]) -> None:
        self._answers = [socket.inet_aton(address) for address in addresses]
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.address = f"127.0.0.1:{self._socket.getsockname()[1]}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.queries = 0

    def _answer(self, query: bytes) -> bytes:
        (query_id, flags) = struct.unpack("!HH", query[:4])
        end = 12
        while query[end]:
            end += query[end] + 1
        question_end = end + 5  # the name's final zero byte, then type and class
        (query_type,) = struct.unpack("!H", query[end + 1 : end + 3])
        records = self._answers if query_type == 1 else []
        header = struct.pack("!HHHHHH", query_id, 0x8180 | (flags & 0x0100), 1, len(records), 0, 0)
        answers = b"".join(
            b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, _DNS_TTL_SECONDS, 4) + address
            for address in records
        )
        return header + query[12:question_end] + answers

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                query, peer = self._socket.recvfrom(512)
            except TimeoutError:
                continue
            self.queries += 1
            self._socket.sendto(self._answer(query), peer)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()


def _replica(stack: LocalStack, name: str, host: str, port: str, metrics_port: int) -> Component:
    """A processor component like the stack's own, on ``host:port``, one worker."""
    processor = stack.component("processor")
    argv = list(processor.argv)
    flags = {
        "--listen": f"{host}:{port}",
        "--workers": "1",
        "--metrics-listen": f"127.0.0.1:{metrics_port}",
    }
    for flag, value in flags.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    env = dict(processor.env)
    address = f"{host}:{port}"
    return Component(name, argv, env, lambda: grpc_serving(address), f"replica {name} on {address}")


class Replicas:
    """The two replicas' components and their metrics ports."""

    def __init__(self, stack: LocalStack, dns: LoopbackDns) -> None:
        port = stack.layout.processor.rpartition(":")[2]
        self.metrics_ports = {"processor": free_port(), "processor-b": free_port()}
        replica_a = _replica(
            stack, "processor", REPLICA_HOSTS[0], port, self.metrics_ports["processor"]
        )
        replica_b = _replica(
            stack, "processor-b", REPLICA_HOSTS[1], port, self.metrics_ports["processor-b"]
        )
        names = [c.name for c in stack.components]
        stack.components[names.index("processor")] = replica_a
        stack.components.insert(names.index("collector"), replica_b)
        collector = stack.component("collector")
        collector.argv += ["--config", str(OVERLAY)]
        collector.env["MAX_OTEL_PROCESSOR_REPLICAS"] = f"dns://{dns.address}/{REPLICA_NAME}:{port}"

    def spans_redacted(self, name: str) -> float:
        """``max_otel_processor_items_total{signal="traces"}`` of replica ``name``."""
        url = f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("max_otel_processor_items_total{") and 'signal="traces"' in line
        )


@pytest.fixture
def dns() -> Iterator[LoopbackDns]:
    server = LoopbackDns(REPLICA_HOSTS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def replicated_stack(tmp_path: Path, dns: LoopbackDns) -> Iterator[tuple[LocalStack, Replicas]]:
    stack = LocalStack(StackLayout.with_free_ports(tmp_path / "stack"))
    replicas = Replicas(stack, dns)
    stack.start()
    try:
        yield stack, replicas
    finally:
        stack.stop()


def _wait_until_stored(jaeger: JaegerApi, sender: SpanSender) -> None:
    expected = sender.accepted

    def arrived() -> bool:
        return expected <= stored_span_ids(stored_traces(jaeger, sender.service_name))

    wait_for(arrived, _ARRIVAL_TIMEOUT, interval=1.0)


def test_two_replicas_share_the_traffic_and_one_can_die(
    replicated_stack: tuple[LocalStack, Replicas],
    span_sender: Callable[[str, str], SpanSender],
    dns: LoopbackDns,
) -> None:
    stack, replicas = replicated_stack
    jaeger = JaegerApi(stack.layout.jaeger_url)
    sender = span_sender(stack.layout.collector_grpc, "scale-out")

    sender.send(traces=30, spans_per_trace=4, seconds=4.0)
    sender.flush()
    _wait_until_stored(jaeger, sender)

    assert dns.queries > 0, "the collector never asked the test DNS server"
    shares = {name: replicas.spans_redacted(name) for name in replicas.metrics_ports}
    assert all(count > 0 for count in shares.values()), shares
    assert sum(shares.values()) >= sender.sent

    stack.component("processor-b").kill()
    before = replicas.spans_redacted("processor")
    first_round = sender.sent
    sender.send(traces=30, spans_per_trace=4, seconds=3.0)
    sender.flush()
    _wait_until_stored(jaeger, sender)

    assert replicas.spans_redacted("processor") - before >= sender.sent - first_round
    assert sender.rejected == 0 and len(sender.accepted) == sender.sent
    traces = stored_traces(jaeger, sender.service_name)
    assert stored_span_ids(traces) == sender.accepted
    assert find_seeded(stored_text(traces)) == []
