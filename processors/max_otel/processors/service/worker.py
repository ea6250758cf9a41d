"""One worker process: an asyncio gRPC server on the shared port, until SIGTERM.

Run inside a freshly forked process (all gRPC objects are created here, after the fork)::

    exit_status = run_worker(config, slot, reload_rules, index=0)

- serves ``TraceService``, ``LogsService`` and ``MetricsService`` ``Export`` and the standard
  ``grpc.health.v1.Health`` service (SERVING for "" and each OTLP service) on
  ``config.listen``, with ``SO_REUSEPORT`` so every worker binds the same port;
- SIGTERM / SIGINT: health turns NOT_SERVING, no new RPCs are accepted, in-flight ones get
  ``shutdown_grace`` seconds to finish; then exit status 0;
- SIGHUP: ``reload_rules()`` builds a new redactor; on any error one log line says why and
  the previous rules stay in force (the parent checks the new rules first and relays
  SIGHUP only when they load, so a broken file is reported once, not once per worker).

Exit status 2 when the port cannot be bound.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio

from max_otel.processors.otlp import RedactionEngine
from max_otel.processors.service.allocator import keep_freed_memory
from max_otel.processors.service.config import ProcessorConfig
from max_otel.processors.service.export import ExportHandler, RedactorSlot
from max_otel.processors.service.forwarder import Forwarder
from max_otel.processors.service.metrics import ProcessorMetrics
from max_otel.processors.service.signals import SIGNALS
from max_otel.processors.service.supervisor import reload_failure, stop_requested_early
from max_otel.processors.service.tls import server_credentials

logger = logging.getLogger(__name__)


def _reload(slot: RedactorSlot, reload_rules: Callable[[], RedactionEngine]) -> None:
    try:
        slot.engine = reload_rules()
    except Exception as error:  # any failure keeps the rules in force
        logger.error("%s", reload_failure(error))
    else:
        logger.info("rules reloaded")


async def _serve(
    config: ProcessorConfig,
    slot: RedactorSlot,
    reload_rules: Callable[[], RedactionEngine],
    index: int,
) -> int:
    metrics = ProcessorMetrics.start(config.metrics_listen, index)
    forwarder = Forwarder(config)
    options: list[tuple[str, int]] = [
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
    ]
    if config.max_connection_age:
        options.append(("grpc.max_connection_age_ms", int(config.max_connection_age * 1000)))
        options.append(("grpc.max_connection_age_grace_ms", int(config.shutdown_grace * 1000)))
    server = grpc.aio.server(options=options)
    server.add_generic_rpc_handlers(
        [ExportHandler(otlp, slot, forwarder, metrics).rpc_handler() for otlp in SIGNALS]
    )
    health = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    credentials = server_credentials(config)
    try:
        if credentials is None:
            bound = server.add_insecure_port(config.listen)
        else:
            bound = server.add_secure_port(config.listen, credentials)
    except RuntimeError as error:
        logger.error("cannot listen on %s: %s", config.listen, error)
        return 2
    if not bound:
        logger.error("cannot listen on %s", config.listen)
        return 2
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    loop.add_signal_handler(signal.SIGINT, stopping.set)
    loop.add_signal_handler(signal.SIGHUP, _reload, slot, reload_rules)
    if stop_requested_early():
        stopping.set()
    await server.start()
    for service in ("", *(otlp_signal.service for otlp_signal in SIGNALS)):
        await health.set(service, health_pb2.HealthCheckResponse.SERVING)
    logger.info(
        "worker %d serving OTLP/gRPC on %s%s, forwarding to %s",
        index,
        config.listen,
        " (TLS)" if credentials else "",
        config.forward,
    )
    await stopping.wait()
    logger.info("worker %d stopping: finishing in-flight requests", index)
    await health.enter_graceful_shutdown()
    await server.stop(config.shutdown_grace)
    await forwarder.close()
    metrics.shutdown()
    logger.info("worker %d stopped", index)
    return 0


def run_worker(
    config: ProcessorConfig,
    slot: RedactorSlot,
    reload_rules: Callable[[], RedactionEngine],
    index: int,
) -> int:
    """Serve until SIGTERM; return the process exit status."""
    keep_freed_memory()
    return asyncio.run(_serve(config, slot, reload_rules, index))
