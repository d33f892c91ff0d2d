"""The latency histograms' buckets and percentiles (consentry.events.latency)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.events.latency import BOUNDS_MS, bucket_of, percentile


@pytest.mark.parametrize(
    ("milliseconds", "bound"),
    [(-5, 10), (0, 10), (10, 10), (10.1, 25), (999, 1_000), (1_000, 1_000), (10**9, math.inf)],
)
def test_a_latency_falls_in_the_first_bucket_whose_bound_holds_it(
    milliseconds: float, bound: float
) -> None:
    assert BOUNDS_MS[bucket_of(milliseconds)] == bound


def test_no_values_have_no_percentile() -> None:
    assert percentile([0] * len(BOUNDS_MS), 0.5) is None


@given(st.lists(st.floats(min_value=0, max_value=2_000_000), min_size=1, max_size=300))
def test_a_percentile_is_the_bound_of_the_bucket_the_exact_one_falls_in(
    values: list[float],
) -> None:
    counts = [0] * len(BOUNDS_MS)
    for value in values:
        counts[bucket_of(value)] += 1
    for fraction in (0.5, 0.99):
        exact = sorted(values)[math.ceil(fraction * len(values)) - 1]
        assert percentile(counts, fraction) == BOUNDS_MS[bucket_of(exact)]
