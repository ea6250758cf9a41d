"""The worker's allocator tuning: done by default on glibc, never over the operator's own."""

from __future__ import annotations

import pytest

from max_otel.processors.service.allocator import OPERATOR_VARIABLES, keep_freed_memory

pytestmark = pytest.mark.unit


def test_glibc_is_tuned_when_the_operator_set_nothing() -> None:
    assert keep_freed_memory({}) is True


@pytest.mark.parametrize("variable", OPERATOR_VARIABLES)
def test_an_operator_setting_is_left_alone(variable: str) -> None:
    assert keep_freed_memory({variable: "1048576"}) is False
