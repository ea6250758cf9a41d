"""Environment variables of ``max-otel processor``, one per option.

Precedence for every option: command-line flag, then the environment variable, then the YAML
config file (``--config`` or :data:`MAX_OTEL_PROCESSOR_CONFIG`), then the ``_DEFAULT_*``
constant in :mod:`max_otel.processors.service.config`. The pseudonym key is read by the
redaction engine from ``MAX_OTEL_PSEUDONYM_KEY`` / ``MAX_OTEL_PSEUDONYM_KEY_FILE`` /
``MAX_OTEL_PSEUDONYM_KEY_ID`` and never from a config file.
"""

from __future__ import annotations

MAX_OTEL_PROCESSOR_CONFIG = "MAX_OTEL_PROCESSOR_CONFIG"
"""Path of the YAML config file (``--config``). Default: none."""

MAX_OTEL_PROCESSOR_LISTEN = "MAX_OTEL_PROCESSOR_LISTEN"
"""``HOST:PORT`` the OTLP/gRPC server listens on. Default ``127.0.0.1:4320``."""

MAX_OTEL_PROCESSOR_FORWARD = "MAX_OTEL_PROCESSOR_FORWARD"
"""Next OTLP/gRPC hop: ``http://host:port`` (plaintext) or ``https://host:port`` (TLS).
Default ``http://127.0.0.1:4319``."""

MAX_OTEL_PROCESSOR_WORKERS = "MAX_OTEL_PROCESSOR_WORKERS"
"""Number of worker processes sharing the port (SO_REUSEPORT). Default: one per CPU."""

MAX_OTEL_PROCESSOR_RULES = "MAX_OTEL_PROCESSOR_RULES"
"""Path of the redaction rules YAML file. Default: the engine's packaged rules."""

MAX_OTEL_PROCESSOR_TLS_CERT = "MAX_OTEL_PROCESSOR_TLS_CERT"
"""PEM certificate (chain) the server presents; with ``..._TLS_KEY`` enables TLS. Default: none."""

MAX_OTEL_PROCESSOR_TLS_KEY = "MAX_OTEL_PROCESSOR_TLS_KEY"
"""PEM private key of the server certificate. Default: none."""

MAX_OTEL_PROCESSOR_TLS_CLIENT_CA = "MAX_OTEL_PROCESSOR_TLS_CLIENT_CA"
"""PEM CA bundle; when set, callers must present a certificate it signed (mTLS). Default: none."""

MAX_OTEL_PROCESSOR_FORWARD_CA = "MAX_OTEL_PROCESSOR_FORWARD_CA"
"""PEM CA bundle that verifies the next hop's certificate (``https://``). Default: system roots."""

MAX_OTEL_PROCESSOR_FORWARD_CERT = "MAX_OTEL_PROCESSOR_FORWARD_CERT"
"""PEM client certificate presented to the next hop (mTLS). Default: none."""

MAX_OTEL_PROCESSOR_FORWARD_KEY = "MAX_OTEL_PROCESSOR_FORWARD_KEY"
"""PEM private key of the client certificate. Default: none."""

MAX_OTEL_PROCESSOR_MAX_MESSAGE_BYTES = "MAX_OTEL_PROCESSOR_MAX_MESSAGE_BYTES"
"""Largest request accepted, in bytes; larger ones get ``RESOURCE_EXHAUSTED``. Default 16 MiB."""

MAX_OTEL_PROCESSOR_FORWARD_TIMEOUT = "MAX_OTEL_PROCESSOR_FORWARD_TIMEOUT"
"""Seconds to wait for the next hop's answer before answering ``UNAVAILABLE``. Default 10."""

MAX_OTEL_PROCESSOR_SHUTDOWN_GRACE = "MAX_OTEL_PROCESSOR_SHUTDOWN_GRACE"
"""Seconds in-flight requests get to finish after SIGTERM. Default 20."""

MAX_OTEL_PROCESSOR_MAX_CONNECTION_AGE = "MAX_OTEL_PROCESSOR_MAX_CONNECTION_AGE"
"""Seconds after which the server asks a client to reconnect (gRPC GOAWAY; in-flight calls
get ``shutdown_grace`` to finish), so clients re-resolve and new replicas and workers get
connections. 0 never does. Default 0."""

MAX_OTEL_PROCESSOR_METRICS_LISTEN = "MAX_OTEL_PROCESSOR_METRICS_LISTEN"
"""``HOST:PORT`` of the Prometheus endpoint of worker 0; worker ``i`` uses ``PORT + i``; empty
disables it. Default ``127.0.0.1:9464``."""

MAX_OTEL_PROCESSOR_DEV = "MAX_OTEL_PROCESSOR_DEV"
"""``true`` runs with a throwaway pseudonym key (development only). Default ``false``."""
