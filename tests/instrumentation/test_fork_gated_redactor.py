"""A child forked while another thread is redacting can redact (RE2's locks are not held)."""

from __future__ import annotations

import os
import random
import signal
import string
import threading
import time
from collections.abc import Iterator

import pytest

from max_otel.instrumentation.fork_gated_redactor import ForkGatedRedactor
from max_otel.instrumentation.redaction_setup import build_redactor
from max_otel.processors.redaction import PseudonymKey, RedactionHits, Redactor, load_rules

pytestmark = pytest.mark.unit

PHONE = "+5511987654321"


def fresh_texts(seed: int) -> Iterator[str]:
    """Texts never seen before: each one makes RE2 build new DFA states (under its mutex)."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " +@.-/:"
    while True:
        yield "".join(rng.choice(alphabet) for _ in range(rng.randint(20, 200)))


def redact_in_forked_children(redactor: Redactor, children: int) -> list[int]:
    """Fork ``children`` times while a thread redacts fresh texts; each child redacts fresh
    texts and a phone number, and must exit 0 within 20 s (SIGALRM kills a hung one)."""
    stop = threading.Event()

    def redact_continuously() -> None:
        for text in fresh_texts(1):
            if stop.is_set():
                return
            redactor.redact_text(text, RedactionHits())

    thread = threading.Thread(target=redact_continuously, daemon=True)
    thread.start()
    time.sleep(0.1)
    exit_codes = []
    try:
        for child in range(children):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                signal.alarm(20)
                texts = fresh_texts(100 + child)
                for _ in range(100):
                    redactor.redact_text(next(texts), RedactionHits())
                os._exit(0 if PHONE not in redactor.redact_text(PHONE, RedactionHits()) else 1)
            _, status = os.waitpid(pid, 0)
            exit_codes.append(os.waitstatus_to_exitcode(status))
    finally:
        stop.set()
        thread.join()
    return exit_codes


def test_children_forked_during_redaction_in_another_thread_redact() -> None:
    redactor = ForkGatedRedactor(load_rules(None), PseudonymKey(b"k" * 32, "k1"))
    assert redact_in_forked_children(redactor, children=8) == [0] * 8


def test_the_process_redactor_is_fork_gated() -> None:
    assert isinstance(build_redactor({}), ForkGatedRedactor)


def test_gated_calls_return_what_the_engine_returns() -> None:
    rules, key = load_rules(None), PseudonymKey(b"k" * 32, "k1")
    plain, gated = Redactor(rules, key), ForkGatedRedactor(rules, key)
    text = f"call {PHONE} or mail ana@example.com"
    attributes = {"user.phone": PHONE, "http.route": "/ping", "message.text": "hi"}
    assert gated.redact_text(text, RedactionHits()) == plain.redact_text(text, RedactionHits())
    assert gated.redact_attributes(attributes, RedactionHits()) == plain.redact_attributes(
        attributes, RedactionHits()
    )
    assert gated.redact_value("token", "abc", RedactionHits()) == plain.redact_value(
        "token", "abc", RedactionHits()
    )
    assert gated.keeps_key("conversation_id") and not gated.keeps_key("password")
    assert gated.might_contain_pii(text) and not gated.might_contain_pii("GET /ping")
    assert gated.might_contain_pii_many(["GET /ping", text]) == [1]
    assert gated.find_pii(text) == plain.find_pii(text)
