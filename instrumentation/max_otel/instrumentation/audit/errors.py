"""The audit trail's exceptions, in one place.

::

    Exception
    └── AuditError              base of everything the audit package raises on purpose
        ├── AuditWriteError     an event could not be stored (raised only by a trail that is
        │                       configured as required, ``FailurePolicy.FAIL_CLOSED``)
        ├── ArchiveError        an archive step failed; nothing was dropped
        └── SchemaError         the schema is missing or an argument to install it is invalid

Configuration mistakes (a bad environment variable, an invalid role name) raise
``ValueError("<setting> must ...; got ...")`` like the rest of max-otel.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of the audit package's errors."""


class AuditWriteError(AuditError):
    """An audit event was not stored, and the trail is configured to fail closed."""


class ArchiveError(AuditError):
    """Archiving a month failed before its partition was dropped; nothing was lost."""


class SchemaError(AuditError):
    """The audit schema is not installed, or cannot be installed as asked."""
