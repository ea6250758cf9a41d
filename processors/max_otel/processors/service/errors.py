"""Errors of the processor service.

::

    Exception
    └── ForwardError           the next hop did not accept a batch; carries the status to
                               answer the caller with (UNAVAILABLE unless the next hop said
                               INVALID_ARGUMENT)

Configuration errors are ``ValueError`` (from :mod:`max_otel.processors.service.config`) or
the engine's ``ConfigurationError``; decode errors are ``OtlpDecodeError``.
"""

from __future__ import annotations

import grpc

# Codes passed back as they are: retrying the same batch cannot succeed.
_PASSED_THROUGH = frozenset({grpc.StatusCode.INVALID_ARGUMENT})


class ForwardError(Exception):
    """The next hop failed or refused a batch.

    ``next_hop_code`` is what the next hop (or the channel) said; ``code`` is what the caller
    is answered: ``UNAVAILABLE`` (retryable, so the collector's queue keeps the batch) for
    everything but ``INVALID_ARGUMENT``.
    """

    def __init__(self, next_hop_code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"next hop answered {next_hop_code.name}: {details}")
        self.next_hop_code = next_hop_code
        self.details = details
        self.code = (
            next_hop_code if next_hop_code in _PASSED_THROUGH else grpc.StatusCode.UNAVAILABLE
        )
