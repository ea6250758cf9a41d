"""Fixtures for the sample service's tests: a CRM stand-in (``examples/`` is on the test path)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.crm_endpoint import CrmEndpoint


@pytest.fixture(scope="module")
def crm() -> Iterator[CrmEndpoint]:
    """A recording HTTP endpoint for ``MAX_INTEGRATION_URL``, one per test module."""
    with CrmEndpoint() as endpoint:
        yield endpoint
