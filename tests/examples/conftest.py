"""Fixtures for the sample service's tests: ``max_service`` importable, a CRM stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# Importing the harness puts examples/ on sys.path, so tests can import max_service.
from tests.support import sample_service  # noqa: F401
from tests.support.crm_endpoint import CrmEndpoint


@pytest.fixture(scope="module")
def crm() -> Iterator[CrmEndpoint]:
    """A recording HTTP endpoint for ``MAX_INTEGRATION_URL``, one per test module."""
    with CrmEndpoint() as endpoint:
        yield endpoint
