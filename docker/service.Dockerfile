# The sample Max service (core-api and its Celery worker) under opentelemetry-instrument.
# Build from the repository root:  docker build -f docker/service.Dockerfile -t max-otel/service .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PYTHONPATH=/src/examples \
    OTEL_PYTHON_DISTRO=max_otel OTEL_PYTHON_CONFIGURATOR=max_otel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY instrumentation ./instrumentation
COPY processors ./processors
RUN pip install '.[service]' && useradd --system --uid 10001 max
COPY examples ./examples
USER 10001
EXPOSE 8000
CMD ["opentelemetry-instrument", "uvicorn", "max_service.app:app", "--host", "0.0.0.0", "--port", "8000"]
