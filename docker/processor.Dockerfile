# The max-otel redaction processor service (max-otel processor).
# Build from the repository root:  docker build -f docker/processor.Dockerfile -t max-otel/processor .
# Run: needs MAX_OTEL_PSEUDONYM_KEY or MAX_OTEL_PSEUDONYM_KEY_FILE (see docs/processor.md).

# Stage 1: the compiled OTLP walk (Rust), built into an abi3 wheel for CPython >= 3.11.
FROM rust:1-slim-bookworm AS native
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /venv && /venv/bin/pip install --no-cache-dir "maturin>=1.9,<2"
COPY processors/native /native
RUN /venv/bin/maturin build --release --locked --manifest-path /native/Cargo.toml --out /wheels

# Stage 2: the service, with the wheel above (without it the service walks in Python, slower).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY instrumentation ./instrumentation
COPY processors ./processors
COPY --from=native /wheels /wheels
RUN pip install . /wheels/*.whl && rm -rf /wheels && useradd --system --uid 10001 max-otel
USER 10001
EXPOSE 4320 9464
# One worker per CPU by default; the collector balances across replicas (docs/scale-out.md).
ENTRYPOINT ["max-otel", "processor"]
CMD ["--listen", "0.0.0.0:4320", "--forward", "http://otelcol-max:4319"]
