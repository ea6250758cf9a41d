# otelcol-max, built with the OpenTelemetry Collector Builder from collector-config/,
# the same manifest and pinned tools module as the local build (collector-config/build-tools.sh).
# Build from the repository root:  docker build -f docker/collector.Dockerfile -t max-otel/collector .
FROM golang:1.26-bookworm AS build
WORKDIR /src/collector-config
COPY collector-config/tools ./tools
COPY collector-config/builder-config.yaml ./
RUN go -C tools build -trimpath -o /usr/local/bin/builder go.opentelemetry.io/collector/cmd/builder \
 && mkdir /out && cd /out \
 && builder --config=/src/collector-config/builder-config.yaml --skip-strict-versioning=false

FROM debian:bookworm-slim
# CA certificates: the OTLP/HTTP exporters verify https back ends (vendor-apm.example.yaml).
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 otel && mkdir -p /var/lib/otelcol/queue && chown otel /var/lib/otelcol/queue
COPY --from=build /out/otelcol-max/otelcol-max /usr/local/bin/otelcol-max
COPY collector-config/otelcol-max.yaml /etc/otelcol-max/otelcol-max.yaml
USER 10001
EXPOSE 4317 4318 4319 8888 8889 13133 55679
ENTRYPOINT ["otelcol-max"]
CMD ["--config=/etc/otelcol-max/otelcol-max.yaml"]
