"""The ``Export`` RPC of each OTLP service: validate, redact, forward, answer.

Handlers are registered with raw-bytes (de)serializers, so decoding is ours to control::

    handler = ExportHandler(signal, slot, forwarder, metrics)
    server.add_generic_rpc_handlers([handler.rpc_handler()])

Answers, per request:

- the bytes are not a valid request of the signal's type (protobuf's own recursion limit
  bounds nesting): ``INVALID_ARGUMENT``, nothing forwarded;
- the walk fails for any other reason (a bug): ``INTERNAL``, nothing forwarded (fail closed);
- the next hop fails or does not answer within ``forward_timeout``: ``UNAVAILABLE`` (retryable:
  the caller's retry and persistent queue keep the batch), or ``INVALID_ARGUMENT`` if the next
  hop said so;
- otherwise the next hop's own response, ``partial_success`` included.

Oversized requests never reach the handler: gRPC answers ``RESOURCE_EXHAUSTED``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import grpc
import grpc.aio

from max_otel.processors.otlp import OtlpDecodeError, RedactionEngine, RedactionResult
from max_otel.processors.service.errors import ForwardError
from max_otel.processors.service.forwarder import Forwarder
from max_otel.processors.service.metrics import ProcessorMetrics
from max_otel.processors.service.signals import Signal

logger = logging.getLogger(__name__)


@dataclass
class RedactorSlot:
    """The redactor in use; SIGHUP swaps ``engine`` for one built from the new rules.

    ``engine`` ``None`` means no redaction at all: only the pass-through baseline of the
    benchmark runs like that, it is not reachable from the command line.
    """

    engine: RedactionEngine | None


class ExportHandler:
    """``Export`` of one signal; one instance per signal and worker."""

    def __init__(
        self,
        signal: Signal,
        slot: RedactorSlot,
        forwarder: Forwarder,
        metrics: ProcessorMetrics,
    ) -> None:
        self._signal = signal
        self._slot = slot
        self._forwarder = forwarder
        self._metrics = metrics

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """The generic handler serving ``<service>/Export`` with raw bytes in and out."""
        method = grpc.unary_unary_rpc_method_handler(self.export)
        return grpc.method_handlers_generic_handler(self._signal.service, {"Export": method})

    def _redact(self, request: bytes) -> RedactionResult:
        engine = self._slot.engine
        if engine is None:
            return RedactionResult(data=request)
        return self._signal.redact(engine, request)  # validates the whole request first

    async def export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started = time.perf_counter()
        signal = self._signal.name
        try:
            result = self._redact(request)
        except OtlpDecodeError as error:
            self._metrics.record_batch(signal, None, time.perf_counter() - started, "invalid")
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"request is not a valid {self._signal.request_type.__name__}: {error}",
            )
            raise  # abort() raises; this line only satisfies the type checker
        except Exception:
            logger.exception("redacting a %s request failed; nothing was forwarded", signal)
            self._metrics.record_batch(
                signal, None, time.perf_counter() - started, "internal_error"
            )
            await context.abort(grpc.StatusCode.INTERNAL, "redaction failed; nothing was forwarded")
            raise
        try:
            response = await self._forwarder.export(self._signal.method, result.data)
        except ForwardError as error:
            self._metrics.record_forward_error(signal, error.next_hop_code.name)
            self._metrics.record_batch(
                signal, result, time.perf_counter() - started, "forward_error"
            )
            await context.abort(error.code, f"next hop did not take the batch: {error}")
            raise
        self._metrics.record_batch(signal, result, time.perf_counter() - started, "ok")
        return response
