"""What transforms telemetry: the redaction engine and the OTLP redaction service."""
