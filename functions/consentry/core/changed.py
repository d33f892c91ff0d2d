"""When a profile or an address was last written, as the `changed` index keys it.

Every write of a profile or an address item stamps it with the moment of the write
(`changed_at`, the real clock, never a test's or a backdated one) and a partition of
that day (`changed_day`: the day, then one of `CHANGED_SHARDS` shards of the item's
key, so that no GSI partition takes a whole day's writes). An analysis reads the
items written since its stored suppression snapshot from that index: a few queries
per day, each of only what changed.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

CHANGED_SHARDS = 8


def changed_day(key: str, at: datetime) -> str:
    """The `changed` index partition of an item with `key` written at `at` (UTC)."""
    return f"{at:%Y-%m-%d}#{zlib.crc32(key.encode()) % CHANGED_SHARDS}"


def changed_days(since: datetime, until: datetime) -> list[str]:
    """Every partition that holds writes from `since` to `until` (UTC): each day's
    shards."""
    days = []
    day = since.date()
    while day <= until.date():
        days += [f"{day:%Y-%m-%d}#{shard}" for shard in range(CHANGED_SHARDS)]
        day += timedelta(days=1)
    return days
