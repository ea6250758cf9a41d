"""gRPC credentials for both sides of the service, from PEM files named in the config.

- server: ``tls_cert`` + ``tls_key`` enable TLS; ``tls_client_ca`` also requires callers to
  present a certificate signed by that CA (mTLS);
- next hop: an ``https://`` forward URL uses TLS, verified against ``forward_ca`` (or the
  system roots); ``forward_cert`` + ``forward_key`` present a client certificate.

::

    credentials = server_credentials(config)   # None: plaintext
"""

from __future__ import annotations

from pathlib import Path

import grpc

from max_otel.processors.service.config import ProcessorConfig


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def server_credentials(config: ProcessorConfig) -> grpc.ServerCredentials | None:
    """Return the server's TLS credentials, or ``None`` for plaintext."""
    if not config.tls_cert:
        return None
    key, cert = _read(config.tls_key), _read(config.tls_cert)
    assert key is not None and cert is not None
    client_ca = _read(config.tls_client_ca)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def forward_credentials(config: ProcessorConfig) -> grpc.ChannelCredentials | None:
    """Return the next-hop channel's TLS credentials, or ``None`` for plaintext."""
    if not config.forward_tls:
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(config.forward_ca),
        private_key=_read(config.forward_key),
        certificate_chain=_read(config.forward_cert),
    )
