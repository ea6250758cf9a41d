"""The gRPC client that hands redacted batches to the next OTLP hop.

One channel per worker process, created inside the worker after the fork (gRPC objects are
not fork-safe). Requests and responses travel as serialized bytes: the next hop's answer,
including its ``partial_success``, goes back to the caller unchanged::

    forwarder = Forwarder(config)
    response_bytes = await forwarder.export(signal.method, redacted_bytes)  # or ForwardError
    await forwarder.close()

Contract: :meth:`Forwarder.export` either returns the next hop's serialized response or raises
:class:`ForwardError` (never another exception for an RPC failure); it does not retry: the
caller's retry and persistent queue do, and the service holds no data.
"""

from __future__ import annotations

import grpc
import grpc.aio

from max_otel.processors.service.config import ProcessorConfig
from max_otel.processors.service.errors import ForwardError
from max_otel.processors.service.tls import forward_credentials


class Forwarder:
    """A channel to the next hop and one raw-bytes ``Export`` method per signal."""

    def __init__(self, config: ProcessorConfig) -> None:
        options = [
            # Redaction can make a batch a little larger than it came in.
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", config.max_message_bytes),
        ]
        credentials = forward_credentials(config)
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(config.forward_target, options=options)
        else:
            self._channel = grpc.aio.secure_channel(
                config.forward_target, credentials, options=options
            )
        self._timeout = config.forward_timeout
        self._methods: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}

    async def export(self, method: str, payload: bytes) -> bytes:
        """Send ``payload`` to ``method`` of the next hop; return its serialized answer."""
        call = self._methods.get(method)
        if call is None:
            call = self._channel.unary_unary(method)
            self._methods[method] = call
        try:
            response: bytes = await call(payload, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise ForwardError(error.code(), error.details() or "") from None
        return response

    async def close(self) -> None:
        await self._channel.close()
