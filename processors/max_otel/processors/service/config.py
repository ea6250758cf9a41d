"""Settings of ``max-otel processor``: defaults, YAML config file, environment, flags.

Each setting is resolved on its own: command-line flag, then environment variable (names in
:mod:`max_otel.processors.service.environment`), then the YAML config file, then the
``_DEFAULT_*`` constant. The YAML file uses the field names below as snake_case keys::

    # processor.yaml
    listen: 0.0.0.0:4320
    forward: https://collector.internal:4319
    forward_ca: /etc/max-otel/ca.pem
    workers: 4
    rules: /etc/max-otel/redaction-rules.yaml

    config = resolve_config(flags={"workers": 2}, environ=os.environ)
    config.validate()     # ValueError("workers must be at least 1; got 0")
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from max_otel.processors.service import environment

_DEFAULT_LISTEN = "127.0.0.1:4320"
_DEFAULT_FORWARD = "http://127.0.0.1:4319"
_DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
_DEFAULT_FORWARD_TIMEOUT = 10.0
_DEFAULT_SHUTDOWN_GRACE = 20.0
_DEFAULT_METRICS_LISTEN = "127.0.0.1:9464"
_DEFAULT_MAX_CONNECTION_AGE = 0.0


@dataclass
class ProcessorConfig:
    """Every option of the service; see ``max-otel processor --help`` for their meaning."""

    # OTLP/gRPC server address, HOST:PORT.
    listen: str = _DEFAULT_LISTEN
    # Next hop, http://host:port (plaintext) or https://host:port (TLS).
    forward: str = _DEFAULT_FORWARD
    # Worker processes sharing the listening port; None means one per CPU.
    workers: int | None = None
    # Redaction rules YAML file; None means the engine's packaged defaults.
    rules: str | None = None
    # Server TLS: certificate and key (both or neither), and the CA that signs client
    # certificates (requires TLS; makes client certificates mandatory).
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # Client TLS to the next hop (https:// only): CA bundle, client certificate and key.
    forward_ca: str | None = None
    forward_cert: str | None = None
    forward_key: str | None = None
    # Largest accepted request; larger ones are answered RESOURCE_EXHAUSTED.
    max_message_bytes: int = _DEFAULT_MAX_MESSAGE_BYTES
    # Seconds to wait for the next hop.
    forward_timeout: float = _DEFAULT_FORWARD_TIMEOUT
    # Seconds in-flight requests get after SIGTERM.
    shutdown_grace: float = _DEFAULT_SHUTDOWN_GRACE
    # Seconds after which a client is asked to reconnect (and re-resolve); 0 never.
    max_connection_age: float = _DEFAULT_MAX_CONNECTION_AGE
    # Prometheus endpoint of worker 0 (worker i: port + i); "" disables it.
    metrics_listen: str = _DEFAULT_METRICS_LISTEN
    # Throwaway pseudonym key, development only.
    dev: bool = False

    def validate(self) -> None:
        """Raise ``ValueError("<field> must ...; got ...")`` for the first invalid setting."""
        _check_host_port("listen", self.listen)
        if self.metrics_listen:
            _check_host_port("metrics_listen", self.metrics_listen)
        scheme, _, rest = self.forward.partition("://")
        if scheme not in ("http", "https") or not rest:
            raise ValueError(
                f"forward must be http://host:port or https://host:port; got {self.forward!r}"
            )
        _check_host_port("forward", rest.rstrip("/"))
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1; got {self.workers}")
        if self.max_message_bytes < 1024:
            raise ValueError(
                f"max_message_bytes must be at least 1024; got {self.max_message_bytes}"
            )
        for name in ("forward_timeout", "shutdown_grace"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds; got {value}")
        if self.max_connection_age < 0:
            raise ValueError(
                "max_connection_age must be a number of seconds, 0 for never; "
                f"got {self.max_connection_age}"
            )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError(
                "tls_cert and tls_key must be set together; "
                f"got tls_cert={self.tls_cert!r}, tls_key={self.tls_key!r}"
            )
        if self.tls_client_ca and not self.tls_cert:
            raise ValueError(
                "tls_client_ca must be used with tls_cert and tls_key (mTLS needs TLS); "
                f"got tls_client_ca={self.tls_client_ca!r} without a server certificate"
            )
        if bool(self.forward_cert) != bool(self.forward_key):
            raise ValueError(
                "forward_cert and forward_key must be set together; "
                f"got forward_cert={self.forward_cert!r}, forward_key={self.forward_key!r}"
            )
        if scheme == "http" and (self.forward_ca or self.forward_cert):
            raise ValueError(
                f"forward must be an https:// URL when forward_ca or forward_cert is set; "
                f"got {self.forward!r}"
            )
        for name in (
            "rules",
            "tls_cert",
            "tls_key",
            "tls_client_ca",
            "forward_ca",
            "forward_cert",
            "forward_key",
        ):
            path = getattr(self, name)
            if path and not os.access(path, os.R_OK):
                raise ValueError(f"{name} must be a readable file; got {path!r}")

    @property
    def forward_target(self) -> str:
        """``host:port`` of the next hop."""
        return self.forward.partition("://")[2].rstrip("/")

    @property
    def forward_tls(self) -> bool:
        return self.forward.startswith("https://")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


def _check_host_port(name: str, value: str) -> None:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{name} must be HOST:PORT with a port 0-65535; got {value!r}")


_FIELDS = {field.name: field for field in dataclasses.fields(ProcessorConfig)}
_ENVIRONMENT = {
    name: getattr(environment, f"MAX_OTEL_PROCESSOR_{name.upper()}") for name in _FIELDS
}


def _convert(name: str, value: object, origin: str) -> object:
    """Convert a value from the environment or the YAML file to the field's type."""
    kind = str(_FIELDS[name].type)
    try:
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(text)
        if kind.startswith("int"):
            if isinstance(value, bool):
                raise ValueError(value)
            return int(str(value))
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(str(value))
    except ValueError:
        expected = kind.split(" ")[0]
        raise ValueError(f"{name} must be {expected}; got {value!r} from {origin}") from None
    return None if value is None else str(value)


def load_config_file(path: str | Path) -> dict[str, object]:
    """Read a YAML config file into ``{field: value}``; raise ``ValueError`` on unknown keys."""
    try:
        with open(path, encoding="utf-8") as stream:
            document: Any = yaml.safe_load(stream)
    except OSError as error:
        raise ValueError(
            f"config must be a readable YAML file; got {str(path)!r}: {error}"
        ) from None
    except yaml.YAMLError as error:
        raise ValueError(f"config must be valid YAML; got {str(path)!r}: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError(
            f"config must be a YAML mapping of settings; got {type(document).__name__}"
        )
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise ValueError(
            f"config keys must be among {sorted(_FIELDS)}; got unknown {unknown} in {str(path)!r}"
        )
    # A key set to null counts as not set.
    return {
        name: _convert(name, value, str(path))
        for name, value in document.items()
        if value is not None
    }


def resolve_config(
    flags: Mapping[str, object | None], environ: Mapping[str, str], config_path: str | None = None
) -> ProcessorConfig:
    """Merge flags (``None`` = not given) > environment > config file > defaults; validate."""
    path = config_path or environ.get(environment.MAX_OTEL_PROCESSOR_CONFIG) or None
    from_file = load_config_file(path) if path else {}
    values: dict[str, object] = {}
    for name in _FIELDS:
        flag = flags.get(name)
        env_name = _ENVIRONMENT[name]
        if flag is not None:
            values[name] = flag
        elif env_name in environ:
            values[name] = _convert(name, environ[env_name], f"${env_name}")
        elif name in from_file:
            values[name] = from_file[name]
    config = ProcessorConfig(**values)  # type: ignore[arg-type]
    config.validate()
    return config
