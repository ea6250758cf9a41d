"""The redaction engine's exceptions, in one place.

::

    ValueError
    └── ConfigurationError   a rules file, a pseudonym key or an environment variable is
                             invalid; the message names the setting and how to fix it

The engine raises only at load time (``load_rules``, ``PseudonymKey``, ``Redactor``): once
built, a ``Redactor`` never raises while redacting (it fails closed, see ``Redactor``).
"""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting is invalid: ``"<field> must ...; got ..."``, naming the fix."""
