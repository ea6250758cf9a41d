"""The OTLP/gRPC PII redaction service behind ``max-otel processor``.

::

    max-otel processor --listen 127.0.0.1:4320 --forward http://127.0.0.1:4319

Modules: :mod:`.cli` (the command), :mod:`.config` and :mod:`.environment` (settings),
:mod:`.supervisor` (forks the workers), :mod:`.worker` (one gRPC server), :mod:`.export` (the
``Export`` RPCs), :mod:`.forwarder` (the next hop), :mod:`.metrics` (Prometheus endpoint),
:mod:`.tls`, :mod:`.signals`, :mod:`.errors`. See docs/processor.md.
"""

from max_otel.processors.service.config import ProcessorConfig, load_config_file, resolve_config
from max_otel.processors.service.errors import ForwardError

__all__ = ["ForwardError", "ProcessorConfig", "load_config_file", "resolve_config"]
