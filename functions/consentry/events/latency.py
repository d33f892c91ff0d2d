"""How fast changes are honoured and published, per hour, without scanning anything.

The publisher adds each published change's HonourLatency (requested to effective) and
PublishLag (effective to published) to a histogram of the hour it was published in: one
item per metric and hour, one counter per bucket, written with ADD (so concurrent
publishers add up, and a retried batch adds again: a duplicate counts twice, as it was
published twice). `GET /v1/metrics/honour` reads the last 24 hours' 48 items and
answers p50 and p99 as the upper bound of the bucket they fall in. Items expire two
days after their hour.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from consentry.core.persistence import dynamodb, table

BOUNDS_MS: tuple[float, ...] = (
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    120_000,
    300_000,
    900_000,
    math.inf,
)
"""Upper bounds of the buckets, in milliseconds (a value falls in the first bound at or
above it); the last bucket holds everything slower than 15 minutes."""
WINDOW_HOURS = 24
KEEP = timedelta(days=2)


class Latency(StrEnum):
    HONOUR = "HonourLatency"
    PUBLISH = "PublishLag"


@table("honour_metrics_table")
class LatencyHourModel(Model):
    """One metric's histogram of one hour: the count of changes in each bucket."""

    class Meta:
        table_name = "honour-metrics"

    metric_hour = UnicodeAttribute(hash_key=True)
    """`<metric>#<hour, ISO 8601, UTC>`."""
    b00 = NumberAttribute(default=0)
    b01 = NumberAttribute(default=0)
    b02 = NumberAttribute(default=0)
    b03 = NumberAttribute(default=0)
    b04 = NumberAttribute(default=0)
    b05 = NumberAttribute(default=0)
    b06 = NumberAttribute(default=0)
    b07 = NumberAttribute(default=0)
    b08 = NumberAttribute(default=0)
    b09 = NumberAttribute(default=0)
    b10 = NumberAttribute(default=0)
    b11 = NumberAttribute(default=0)
    b12 = NumberAttribute(default=0)
    b13 = NumberAttribute(default=0)
    b14 = NumberAttribute(default=0)
    b15 = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


_BUCKETS = tuple(f"b{number:02d}" for number in range(len(BOUNDS_MS)))


def bucket_of(milliseconds: float) -> int:
    """The bucket a latency falls in (a negative one, from clocks apart, in the first)."""
    return bisect_left(BOUNDS_MS, max(0.0, milliseconds))


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The upper bound of the bucket where `fraction` of the values lie at or below; None
    when there are none (math.inf when it is the last, open bucket)."""
    total = sum(counts)
    if total == 0:
        return None
    rank = math.ceil(fraction * total)
    seen = 0
    for bound, count in zip(BOUNDS_MS, counts, strict=True):
        seen += count
        if seen >= rank:
            return bound
    return BOUNDS_MS[-1]


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _key(metric: Latency, hour: datetime) -> str:
    return f"{metric.value}#{hour.strftime('%Y-%m-%dT%H')}"


def record(samples: Iterable[tuple[Latency, datetime, float]]) -> None:
    """Add (metric, when published, milliseconds) samples to their hours' histograms: one
    UpdateItem per metric and hour."""
    grouped: dict[tuple[Latency, datetime], list[int]] = {}
    for metric, at, milliseconds in samples:
        counts = grouped.setdefault((metric, hour_of(at)), [0] * len(BOUNDS_MS))
        counts[bucket_of(milliseconds)] += 1
    for (metric, hour), counts in grouped.items():
        attributes = LatencyHourModel.get_attributes()
        actions: list[Action] = [
            Path(attributes[name]).add(count)
            for name, count in zip(_BUCKETS, counts, strict=True)
            if count
        ]
        actions.append(LatencyHourModel.expires_at.set(hour + KEEP))
        with dynamodb():
            LatencyHourModel(_key(metric, hour)).update(actions=actions)


def last_day(now: datetime) -> Mapping[Latency, list[int]]:
    """Each metric's bucket counts over the 24 hours up to `now` (one BatchGetItem)."""
    hours = [hour_of(now) - timedelta(hours=back) for back in range(WINDOW_HOURS)]
    keys = {_key(metric, hour): metric for metric in Latency for hour in hours}
    totals = {metric: [0] * len(BOUNDS_MS) for metric in Latency}
    with dynamodb():
        for item in LatencyHourModel.batch_get(list(keys)):
            counts = totals[keys[item.metric_hour]]
            for number, name in enumerate(_BUCKETS):
                counts[number] += int(getattr(item, name) or 0)
    return totals
