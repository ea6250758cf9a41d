"""What produces telemetry inside a Max service (see the README)."""
