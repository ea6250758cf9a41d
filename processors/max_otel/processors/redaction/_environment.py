"""Environment variables read by the redaction engine, each with its meaning and default.

Configuration precedence everywhere: explicit argument, then environment variable, then the
``_DEFAULT_*`` constant beside it.
"""

from __future__ import annotations

PSEUDONYM_KEY = "MAX_OTEL_PSEUDONYM_KEY"
"""The secret used to pseudonymise phone numbers, emails and other identifiers (HMAC-SHA256).

At least 32 characters; the same value on every service and across restarts, so one customer
gets the same pseudonym everywhere. No default: a missing key is a configuration error.
Generate one with::

    export MAX_OTEL_PSEUDONYM_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')
"""

PSEUDONYM_KEY_FILE = "MAX_OTEL_PSEUDONYM_KEY_FILE"
"""Path of a file holding the pseudonym secret (trailing newline stripped), for secrets
mounted as files. Exclusive with ``MAX_OTEL_PSEUDONYM_KEY``. No default."""

PSEUDONYM_KEY_ID = "MAX_OTEL_PSEUDONYM_KEY_ID"
"""Short identifier of the current pseudonym secret, written into every pseudonym
(``phone:<key id>:...``) so that a key rotation is visible. Letters, digits, ``_`` and ``-``,
at most 16 characters. Default ``k1`` (``_DEFAULT_PSEUDONYM_KEY_ID``)."""

_DEFAULT_PSEUDONYM_KEY_ID = "k1"
