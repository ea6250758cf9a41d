"""The slow-query threshold, shared by the log hook, the report and the metrics.

>>> slow_query_threshold_seconds(0.25)
0.25
>>> slow_query_threshold_seconds(env={"MAX_OTEL_SLOW_QUERY_THRESHOLD_MS": "200"})
0.2
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from max_otel.instrumentation.slow_queries._environment import (
    _DEFAULT_SLOW_QUERY_THRESHOLD_MS,
    SLOW_QUERY_THRESHOLD_MS,
)


def slow_query_threshold_seconds(
    threshold_s: float | None = None, env: Mapping[str, str] | None = None
) -> float:
    """``threshold_s``, else ``MAX_OTEL_SLOW_QUERY_THRESHOLD_MS`` / 1000, else 1.0.

    Raises ``ValueError`` naming the setting if the value is not a positive number.
    """
    if threshold_s is not None:
        if not (math.isfinite(threshold_s) and threshold_s > 0):
            raise ValueError(f"threshold_s must be a positive number of seconds; got {threshold_s}")
        return float(threshold_s)
    raw = (os.environ if env is None else env).get(SLOW_QUERY_THRESHOLD_MS)
    if raw is None or raw.strip() == "":
        return _DEFAULT_SLOW_QUERY_THRESHOLD_MS / 1000.0
    try:
        milliseconds = float(raw)
    except ValueError:
        milliseconds = math.nan
    if not (math.isfinite(milliseconds) and milliseconds > 0):
        raise ValueError(
            f"{SLOW_QUERY_THRESHOLD_MS} must be a positive number of milliseconds; got {raw!r}"
        )
    return milliseconds / 1000.0
