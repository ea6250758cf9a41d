"""Log every SQL statement slower than a threshold as a ``db.slow_query`` event.

One call per engine (or one for every engine of the process)::

    from max_otel.instrumentation.slow_queries import install_slow_query_logging

    install_slow_query_logging(engine)                    # 1 s, or MAX_OTEL_SLOW_QUERY_THRESHOLD_MS
    install_slow_query_logging(async_engine, threshold_s=0.2)
    install_slow_query_logging(sqlalchemy.Engine)         # every engine, present and future

A statement that takes at least the threshold is logged through the standard ``logging``
module, logger ``max_otel.slow_queries``, level WARNING (the spec's level for slow queries),
message ``db.slow_query``, with::

    extra={"duration_ms": 1203.4, "threshold_ms": 1000.0,
           "statement": "SELECT pg_sleep(?)", "db_system": "postgresql",
           "conversation_id": "6f1c0d8e-..."}          # only when baggage carries one

(the message is the event name, so the JSON log formatter writes ``"event": "db.slow_query"``).

The statement's literals are removed by the redaction engine's SQL scrubber (the rules of
``db.query.text``), bound parameters are never read, and it is cut at
``max_statement_chars``. A statement that fails after the threshold (cancelled by
``statement_timeout``...) is logged too, with ``"failed": True``. The count and duration of
slow statements as a metric are ``db_slow_queries_total{operation}`` from the metrics
catalogue (``record_query_metrics``), with the same threshold.

Contract: the listeners never raise and never block; a failure is logged once at DEBUG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from max_otel.instrumentation.conversation import current_conversation_id
from max_otel.instrumentation.fork_gated_redactor import ForkGatedRedactor
from max_otel.instrumentation.slow_queries.threshold import slow_query_threshold_seconds
from max_otel.processors.redaction import (
    ConfigurationError,
    PseudonymKey,
    RedactionHits,
    Redactor,
    load_rules,
)

logger = logging.getLogger("max_otel.slow_queries")
_internal = logging.getLogger(__name__)

StatementScrubber = Callable[[str], str]
"""Turns a SQL statement into one safe to log (literals removed)."""

EVENT = "db.slow_query"
_START = "max_otel_slow_query_started"
_SQL_KEY = "db.query.text"  # the redaction rules scrub this key as SQL (sql_keys)
_DEFAULT_MAX_STATEMENT_CHARS = 2048
_UNSCRUBBABLE = "<statement not logged: scrubbing failed>"


def redaction_scrubber(redactor: Redactor | None = None) -> StatementScrubber:
    """A scrubber using the redaction engine's SQL rules (``db.query.text``).

    Without ``redactor``, the packaged rules with ``MAX_OTEL_PSEUDONYM_KEY``; if no key is
    set, a throwaway key (removing SQL literals needs no key; a pseudonym made from what
    remains would only be unstable across processes).
    """
    if redactor is None:
        try:
            key = PseudonymKey.from_environment()
        except ConfigurationError:
            key = PseudonymKey.generate_throwaway()
        redactor = ForkGatedRedactor(load_rules(None), key)
    engine = redactor

    def scrub(statement: str) -> str:
        scrubbed = engine.redact_value(_SQL_KEY, statement, RedactionHits())
        return scrubbed if isinstance(scrubbed, str) else _UNSCRUBBABLE

    return scrub


class SlowQueryLogger:
    """The engine listeners: time each statement, log the slow ones.

    ``threshold_s``: explicit, else ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS``, else 1 s.
    ``scrubber``: defaults to :func:`redaction_scrubber`. ``conversation_id`` returns the
    current conversation (defaults to the baggage's ``conversation_id``).
    """

    def __init__(
        self,
        threshold_s: float | None = None,
        *,
        scrubber: StatementScrubber | None = None,
        conversation_id: Callable[[], str | None] = current_conversation_id,
        max_statement_chars: int = _DEFAULT_MAX_STATEMENT_CHARS,
        log: logging.Logger = logger,
    ) -> None:
        self.threshold_s = slow_query_threshold_seconds(threshold_s)
        self._scrub = scrubber or redaction_scrubber()
        self._conversation_id = conversation_id
        self._max_chars = max_statement_chars
        self._log = log
        self._targets: list[Any] = []
        self._failed_once = False

    # --- listeners (signatures fixed by SQLAlchemy) ------------------------------------------

    def before_cursor_execute(
        self, _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if context is not None:
            context.__dict__[_START] = time.perf_counter()

    def after_cursor_execute(
        self, conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        self._finished(conn, statement, context, failed=False)

    def handle_error(self, exception_context: Any) -> None:
        self._finished(
            exception_context.connection,
            exception_context.statement or "",
            exception_context.execution_context,
            failed=True,
        )

    # --- the work ----------------------------------------------------------------------------

    def _finished(self, conn: Any, statement: str, context: Any, *, failed: bool) -> None:
        try:
            started = context.__dict__.pop(_START, None) if context is not None else None
            if started is None:
                return
            elapsed = time.perf_counter() - started
            if elapsed < self.threshold_s:
                return
            self._emit(conn, statement, elapsed, failed)
        except Exception:
            if not self._failed_once:
                self._failed_once = True
                _internal.debug("max-otel: slow-query logging failed", exc_info=True)

    def _emit(self, conn: Any, statement: str, elapsed: float, failed: bool) -> None:
        try:
            safe = self._scrub(statement)
        except Exception:
            safe = _UNSCRUBBABLE
        if len(safe) > self._max_chars:
            safe = safe[: self._max_chars] + "..."
        extra: dict[str, object] = {
            "duration_ms": round(elapsed * 1000.0, 1),
            "threshold_ms": round(self.threshold_s * 1000.0, 1),
            "statement": safe,
            "db_system": getattr(getattr(conn, "dialect", None), "name", "unknown"),
        }
        conversation_id = self._conversation_id()
        if conversation_id:
            extra["conversation_id"] = conversation_id
        if failed:
            extra["failed"] = True
        self._log.warning(EVENT, extra=extra)

    # --- installation ------------------------------------------------------------------------

    def install(self, target: Any) -> SlowQueryLogger:
        """Listen on ``target``: an ``Engine``, an ``AsyncEngine``, or the ``Engine`` class."""
        target = getattr(target, "sync_engine", target)
        event.listen(target, "before_cursor_execute", self.before_cursor_execute)
        event.listen(target, "after_cursor_execute", self.after_cursor_execute)
        event.listen(target, "handle_error", self.handle_error)
        self._targets.append(target)
        return self

    def remove(self) -> None:
        """Stop listening everywhere this logger was installed."""
        for target in self._targets:
            event.remove(target, "before_cursor_execute", self.before_cursor_execute)
            event.remove(target, "after_cursor_execute", self.after_cursor_execute)
            event.remove(target, "handle_error", self.handle_error)
        self._targets.clear()


def install_slow_query_logging(
    target: Any,
    threshold_s: float | None = None,
    *,
    scrubber: StatementScrubber | None = None,
) -> SlowQueryLogger:
    """Log ``target``'s statements slower than the threshold; return the logger (``.remove()``).

    ``target`` is an ``Engine``, an ``AsyncEngine`` or the ``sqlalchemy.Engine`` class (every
    engine of the process). Raises ``ValueError`` for an invalid threshold.
    """
    return SlowQueryLogger(threshold_s, scrubber=scrubber).install(target)
