"""The `changed` index's keys, and how the catch-up reads an item seen twice."""

from __future__ import annotations

from datetime import UTC, datetime

from consentry.analysis.snapshot_store import latest_writes
from consentry.core.changed import CHANGED_SHARDS, changed_day, changed_days


def test_a_write_goes_to_its_day_and_a_shard_of_its_key() -> None:
    at = datetime(2026, 12, 2, 23, 59, tzinfo=UTC)

    day = changed_day("email#a@example.com", at)

    assert day.startswith("2026-12-02#")
    assert 0 <= int(day.rpartition("#")[2]) < CHANGED_SHARDS
    assert changed_day("email#a@example.com", at.replace(hour=1)) == day


def test_a_read_across_midnight_covers_both_days_every_shard() -> None:
    since = datetime(2026, 12, 2, 23, 40, tzinfo=UTC)
    until = datetime(2026, 12, 3, 0, 5, tzinfo=UTC)

    days = changed_days(since, until)

    assert len(days) == 2 * CHANGED_SHARDS
    assert {d.partition("#")[0] for d in days} == {"2026-12-02", "2026-12-03"}
    assert changed_day("k", since) in days
    assert changed_day("k", until) in days


def test_an_item_seen_in_two_days_counts_as_its_latest_write() -> None:
    older = {"profile_id": {"S": "p1"}, "changed_at": {"S": "2026-12-02T23:59:59.000000+0000"}}
    newer = {"profile_id": {"S": "p1"}, "changed_at": {"S": "2026-12-03T00:00:01.000000+0000"}}

    assert latest_writes([[newer], [older]], "profile_id") == {"p1": newer}
    assert latest_writes([[older], [newer]], "profile_id") == {"p1": newer}
