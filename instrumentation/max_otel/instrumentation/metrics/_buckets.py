"""Histogram bucket boundaries of the catalogue, in seconds."""

from __future__ import annotations

# Buckets, in seconds. The FRT and time-in-queue buckets are the spec's; the others are chosen
# so the alert and dashboard thresholds fall on a boundary (an interpolated quantile is only
# exact at one).
FIRST_RESPONSE_BUCKETS: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
QUEUE_TIME_BUCKETS: tuple[float, ...] = FIRST_RESPONSE_BUCKETS
RESOLUTION_BUCKETS: tuple[float, ...] = (
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
    172800.0,
)
INTEGRATION_LATENCY_BUCKETS: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
DB_QUERY_BUCKETS: tuple[float, ...] = (
    0.001,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
TASK_DURATION_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Only _sum and _count: averages per agent without a bucket series per agent.
SUM_AND_COUNT_ONLY: tuple[float, ...] = ()
