# The max-otel redaction processor service (max-otel processor).
# Build from the repository root:  docker build -f docker/processor.Dockerfile -t max-otel/processor .
# Run: needs MAX_OTEL_PSEUDONYM_KEY or MAX_OTEL_PSEUDONYM_KEY_FILE (see docs/processor.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY instrumentation ./instrumentation
COPY processors ./processors
RUN pip install . && useradd --system --uid 10001 max-otel
USER 10001
EXPOSE 4320 9464
# One worker per CPU by default; the collector balances across replicas (docs/scale-out.md).
ENTRYPOINT ["max-otel", "processor"]
CMD ["--listen", "0.0.0.0:4320", "--forward", "http://otelcol-max:4319"]
