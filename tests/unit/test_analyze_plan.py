"""Plan's pure parts: reading the request, estimating rows, the Count ranges and what
they carry back, and the rule that picks a snapshot or lookups for the suppression
data."""

import itertools
from typing import Any

import msgspec
import pytest

from analyze.plan import MAX_SHARDS, estimate_rows, shard_count
from analyze.sizing import COUNT_RANGES, EDGES, ScannedRange, Sizing
from consentry.analysis.audience import Layout, SegmentScan
from consentry.analysis.run import SuppressionRead
from consentry.analysis.suppression import (
    Sizes,
    choose_read,
    item_size,
    lookup_units,
    snapshot_units,
)
from consentry.analysis.terms import AudienceError, AudienceFormat, CheckedRequest, check_request

VALID = {
    "deliveryId": "d-1",
    "channel": "email",
    "messageClass": "marketing",
    "audience": {"uri": "s3://bucket/audiences/a.csv"},
}


def request(**changes: Any) -> CheckedRequest:
    return check_request({**VALID, **changes})


def test_a_good_request_reads_with_its_defaults() -> None:
    checked = check_request(VALID)

    assert checked.audience.profile_id_field == "profile_id"
    assert (checked.audience.bucket, checked.audience.key) == ("bucket", "audiences/a.csv")
    assert (checked.dry_run, checked.force, checked.control_group) == (False, False, None)


def test_rows_are_counted_when_the_sample_is_the_whole_audience() -> None:
    sample = b"h\na\nb\nc"

    assert estimate_rows(sample, 2, len(sample)) == 3


def test_rows_are_extrapolated_from_the_sample() -> None:
    sample = b"h\n" + b"row\n" * 100

    assert estimate_rows(sample, 2, 2 + 4 * 1000) == 1000


def test_one_shard_takes_up_to_a_tenth_more_rows_and_more_average_shard_rows() -> None:
    assert shard_count(1_100_000, 1_000_000) == 1
    assert shard_count(1_100_001, 1_000_000) == 2
    assert shard_count(1_500_450, 1_000_000) == 2
    assert shard_count(8_000_000, 1_000_000) == 8


def test_more_shards_than_the_map_takes_are_refused() -> None:
    with pytest.raises(AudienceError, match="more than"):
        shard_count(MAX_SHARDS * 10 + 1, 10)


SMALL = Sizes(opted_out_bytes=10_000, blocked_bytes=10_000, subscriptions_bytes=0)
LARGE = Sizes(opted_out_bytes=40_000_000, blocked_bytes=100_000_000, subscriptions_bytes=0)


def test_a_small_audience_against_large_lists_is_looked_up() -> None:
    assert choose_read(request(), 1_000, LARGE) is SuppressionRead.LOOKUPS


def test_a_large_audience_reads_a_snapshot() -> None:
    assert choose_read(request(), 1_000_000, LARGE) is SuppressionRead.SNAPSHOT


def test_even_a_tiny_snapshot_pays_one_unit_per_query() -> None:
    # 16 opted-out buckets and two statuses of 22 address ranges, each at least one unit.
    assert snapshot_units(request(), Sizes(0, 0, 0)) == (16 + 44) * 0.5
    assert choose_read(request(), 5, Sizes(0, 0, 0)) is SuppressionRead.LOOKUPS
    assert choose_read(request(), 100, SMALL) is SuppressionRead.SNAPSHOT


def test_transactional_deliveries_read_addresses_only() -> None:
    transactional = request(messageClass="transactional", serviceId="news")

    assert lookup_units(transactional, 100) == 50
    assert snapshot_units(transactional, LARGE) == snapshot_units(
        transactional, Sizes(0, 100_000_000, 0)
    )


def test_a_service_delivery_looks_up_subscriptions_too() -> None:
    assert lookup_units(request(serviceId="news"), 100) == 150


def test_item_sizes_follow_dynamodb_metering() -> None:
    item = {"profile_id": {"S": "p1"}, "opt_out_all": {"BOOL": True}, "n": {"N": "12345"}}

    assert item_size(item) == len("profile_id") + 2 + len("opt_out_all") + 1 + 1 + 4
    # Text that is not ASCII counts its UTF-8 bytes, in names and in values.
    assert item_size({"address": {"S": "ü@x.de"}, "é": {"S": "x"}}) == 7 + 7 + 2 + 1


@pytest.mark.parametrize("length", [1, 4095, 4096, 4097, 10**6, 5_500_000_000])
@pytest.mark.parametrize("range_bytes", [1, 4096, 16 << 20])
def test_the_count_ranges_cover_the_rows_in_at_most_count_ranges(
    length: int, range_bytes: int
) -> None:
    sizing = Sizing(
        request=request(),
        etag="e",
        size=100 + length,
        data_start=100,
        layout=Layout(AudienceFormat.CSV, "profile_id", "address"),
        range_bytes=range_bytes,
    )

    cuts = sizing.cuts()

    assert cuts[0] == 0
    assert cuts[-1] == length
    assert 1 <= len(cuts) - 1 <= COUNT_RANGES
    assert all(end > start for start, end in itertools.pairwise(cuts))
    if len(cuts) - 1 < COUNT_RANGES:  # fewer ranges only when they would be smaller
        assert max(end - start for start, end in itertools.pairwise(cuts)) <= range_bytes
    targets = sizing.targets()
    assert len(targets) == EDGES - 1
    assert targets == sorted(targets)
    assert all(0 <= target <= length for target in targets)


@pytest.mark.parametrize("last", [b"", b"\n", b"x", b"\xe9"])
def test_a_range_s_scan_travels_through_the_state_unchanged(last: bytes) -> None:
    scan = SegmentScan(
        end=4096,
        quotes_odd=True,
        line_ends=(7, 3),
        starts=([10, 200, 300], [55]),
        targets=[100, 200, 300],
        last=last,
    )

    carried = msgspec.json.decode(msgspec.json.encode(ScannedRange.of(scan)), type=ScannedRange)

    assert carried.scan() == scan
