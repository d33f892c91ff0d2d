"""The shapes of /v1/metrics: how fast consent changes are honoured and published."""

from __future__ import annotations

from datetime import datetime

from consent.commands import ApiModel


class LatencyOut(ApiModel):
    """A latency over the window: how many changes, and the upper bound of the bucket
    their median and 99th percentile fall in (milliseconds; null when none)."""

    count: int
    p50: int | None
    p99: int | None


class HonourOut(ApiModel):
    as_of: datetime
    window_hours: int
    honour_latency_ms: LatencyOut
    """From when the person or system asked to when Consentry made it effective."""
    publish_lag_ms: LatencyOut
    """From when it was effective to when it was published on the event bus."""
