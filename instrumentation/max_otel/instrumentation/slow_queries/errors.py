"""The slow-query package's exceptions, in one place.

::

    RuntimeError
    └── ExtensionMissingError   pg_stat_statements is not installed (or not preloaded) in the
                                database the report reads; the message says how to fix it

Invalid settings (a threshold that is not a positive number) raise
``ValueError("<setting> must ...; got ...")`` like the rest of max-otel.
"""

from __future__ import annotations


class ExtensionMissingError(RuntimeError):
    """``pg_stat_statements`` is not installed in the database (or not preloaded)."""
