"""Celery: pool processes flush before exiting; JSON logging survives the worker's set-up."""

from __future__ import annotations

import logging

import pytest
from celery import signals

from max_otel.instrumentation import celery_signals
from max_otel.instrumentation.celery_signals import connect_celery_signals

pytestmark = pytest.mark.unit


def test_signals_are_connected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(celery_signals, "_connected", set())
    try:
        assert connect_celery_signals(json_logs=True) == [
            "worker_process_shutdown",
            "worker_shutdown",
            "setup_logging",
        ]
        assert connect_celery_signals(json_logs=True) == []
        assert signals.setup_logging.receivers
    finally:
        signals.worker_process_shutdown.disconnect(celery_signals._flush_on_exit)
        signals.worker_shutdown.disconnect(celery_signals._flush_on_exit)
        signals.setup_logging.disconnect(celery_signals._keep_logging)


def test_worker_loglevel_applies_unless_max_otel_log_level_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = logging.getLogger()
    saved = root.level
    try:
        monkeypatch.delenv("MAX_OTEL_LOG_LEVEL", raising=False)
        celery_signals._keep_logging(loglevel="WARNING")
        assert root.level == logging.WARNING
        celery_signals._keep_logging(loglevel=logging.DEBUG)
        assert root.level == logging.DEBUG
        monkeypatch.setenv("MAX_OTEL_LOG_LEVEL", "INFO")
        celery_signals._keep_logging(loglevel="ERROR")
        assert root.level == logging.DEBUG
    finally:
        root.setLevel(saved)
