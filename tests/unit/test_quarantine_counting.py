"""The counting rules (domain.md section 2) against examples and a reference model."""

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from random import Random
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.addresses import address_store
from consentry.addresses.counting import (
    QuarantinePolicy,
    apply_failure,
    apply_success,
    bucket_start,
    is_outage,
    occurrence_of,
    record,
    release_errors,
    settle,
    window_start,
)
from consentry.addresses.events import AddressEvent
from consentry.addresses.reasons import ErrorType, FailureReason
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.settings import Settings, required_names
from consentry.core.types import Address, Channel

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = QuarantinePolicy()
DAY = timedelta(days=1)
FRESH = AddressState(channel=Channel.EMAIL, address=Address("a@example.com"))
SOFT, HARD, IGNORED = ErrorType.SOFT, ErrorType.HARD, ErrorType.IGNORED
FULL, UNREACHABLE, UNKNOWN = (
    FailureReason.MAILBOX_FULL,
    FailureReason.UNREACHABLE,
    FailureReason.USER_UNKNOWN,
)


def soft_errors(
    times: Iterable[datetime],
    reason: FailureReason = UNREACHABLE,
    state: AddressState = FRESH,
    policy: QuarantinePolicy = POLICY,
) -> AddressState:
    for at in times:
        state = apply_failure(state, SOFT, reason, at, policy)
    return state


def test_a_hard_error_quarantines_at_once() -> None:
    state = apply_failure(FRESH, HARD, UNKNOWN, T0, POLICY)

    assert (state.status, state.reason, state.release_at) == (
        AddressStatus.QUARANTINE,
        "user_unknown",
        None,
    )


def test_a_soft_error_counts_only_a_full_spacing_after_the_last_counted_one() -> None:
    state = soft_errors([T0, T0 + timedelta(hours=23, minutes=59), T0 + DAY])

    assert (state.status, state.error_count, state.last_counted_error_at) == (
        AddressStatus.ERRONEOUS,
        2,
        T0 + DAY,
    )


def test_the_fifth_counted_soft_error_quarantines() -> None:
    four = soft_errors([T0 + i * DAY for i in range(4)])
    five = soft_errors([T0 + 4 * DAY], state=four)

    assert (four.status, five.status) == (AddressStatus.ERRONEOUS, AddressStatus.QUARANTINE)
    assert five.release_at is None


def test_a_mailbox_full_quarantine_is_released_thirty_days_later() -> None:
    state = soft_errors([T0 + i * DAY for i in range(5)], reason=FULL)
    began = T0 + 4 * DAY

    assert state.release_at == began + timedelta(days=30)
    assert settle(state, began + timedelta(days=30) - timedelta(seconds=1), POLICY) == state
    assert settle(state, began + timedelta(days=30), POLICY).status is AddressStatus.VALID


def test_the_counter_resets_more_than_ten_days_after_the_last_counted_error() -> None:
    state = soft_errors([T0])

    assert settle(state, T0 + timedelta(days=10), POLICY) == state
    reset = settle(state, T0 + timedelta(days=10, seconds=1), POLICY)
    assert (reset.status, reset.error_count) == (AddressStatus.VALID, 0)


def test_a_late_soft_error_counts_from_a_reset_counter() -> None:
    state = soft_errors([T0, T0 + DAY, T0 + 12 * DAY])

    assert state.error_count == 1


def test_a_success_resets_the_counter_but_an_older_success_does_not() -> None:
    state = soft_errors([T0, T0 + DAY])

    assert apply_success(state, T0 + DAY - timedelta(seconds=1), POLICY) == state
    assert apply_success(state, T0 + DAY, POLICY).status is AddressStatus.VALID


def test_a_success_never_releases_a_quarantine() -> None:
    state = apply_failure(FRESH, HARD, UNKNOWN, T0, POLICY)

    assert apply_success(state, T0 + DAY, POLICY) == state


def test_ignored_errors_never_count() -> None:
    assert apply_failure(FRESH, IGNORED, FailureReason.ERROR_IGNORED, T0, POLICY) is FRESH


def test_a_hard_error_makes_a_mailbox_full_quarantine_permanent() -> None:
    full = soft_errors([T0 + i * DAY for i in range(5)], reason=FULL)

    hard = apply_failure(full, HARD, UNKNOWN, T0 + 5 * DAY, POLICY)

    assert (hard.reason, hard.release_at) == ("user_unknown", None)


def test_releasing_errors_keeps_denylist_and_allowlist() -> None:
    state = replace(
        apply_failure(FRESH, HARD, UNKNOWN, T0, POLICY),
        denylist_origins=frozenset({"complaint"}),
        allowlisted=True,
    )

    released = release_errors(state, T0 + DAY)

    assert (released.error_status, released.denylist_origins, released.allowlisted) == (
        AddressStatus.VALID,
        frozenset({"complaint"}),
        True,
    )


def test_every_threshold_comes_from_the_settings() -> None:
    settings_ = Settings.from_environment(
        {
            **{name.upper(): "x" for name in required_names()},
            "AWS_REGION": "eu-west-1",
            "SOFT_ERROR_SPACING_HOURS": "12",
            "SOFT_ERRORS_TO_QUARANTINE": "3",
            "ERROR_COUNTER_RESET_DAYS": "7",
            "MAILBOX_FULL_RELEASE_DAYS": "14",
            "OUTAGE_WINDOW_MINUTES": "30",
            "OUTAGE_MIN_FAILURES": "10",
            "OUTAGE_MIN_FAILURE_RATIO": "0.5",
        }
    )

    policy = QuarantinePolicy.from_settings(settings_)

    assert (
        policy.soft_error_spacing,
        policy.soft_errors_to_quarantine,
        policy.counter_reset_after,
        policy.mailbox_full_release_after,
        policy.outage_window,
        policy.outage_min_failures,
        policy.outage_min_failure_ratio,
    ) == (
        timedelta(hours=12),
        3,
        timedelta(days=7),
        timedelta(days=14),
        timedelta(minutes=30),
        10,
        0.5,
    )


@pytest.mark.parametrize(
    ("failures", "attempts", "outage"),
    [(49, 49, False), (50, 50, True), (50, 166, True), (50, 167, False), (200, 0, True)],
)
def test_an_outage_needs_both_the_count_and_the_share(
    failures: int, attempts: int, outage: bool
) -> None:
    assert is_outage(failures, attempts, POLICY) is outage


@given(st.integers(min_value=1_600_000_000, max_value=2_000_000_000))
def test_the_window_is_whole_buckets_ending_with_the_current_one(epoch: int) -> None:
    now = datetime.fromtimestamp(epoch, UTC)
    first, current = window_start(now, POLICY), bucket_start(now, POLICY)

    assert first % 300 == 0
    assert current - first == 3600 - 300
    assert first <= epoch - 3300


# ---------------------------------------------------------------- the reference model
# The rules of domain.md section 2, read literally, over a whole event sequence: a
# second statement of them that shares no code with consentry.addresses.counting.

KINDS = ("hard", "soft", "soft_full", "ignored", "success", "job")


def reference(
    events: list[tuple[str, datetime]], policy: QuarantinePolicy = POLICY
) -> tuple[str, int, str | None, datetime | None]:
    status, count, last, reason, release = "valid", 0, None, None, None
    for kind, at in events:
        overdue = (
            status == "erroneous" and last is not None and at - last > policy.counter_reset_after
        )
        released = status == "quarantine" and release is not None and at >= release
        if overdue or released:
            status, count, last, reason, release = "valid", 0, None, None, None
        if kind in ("job", "ignored"):
            continue
        if kind == "success":
            # An erroneous address has a counted error: `last` is set.
            if status == "erroneous" and at >= cast(datetime, last):
                status, count, last, reason, release = "valid", 0, None, None, None
        elif kind == "hard":
            if status != "quarantine" or release is not None:
                status, count, last, reason, release = (
                    "quarantine",
                    count + 1,
                    at,
                    "user_unknown",
                    None,
                )
        elif status != "quarantine" and (last is None or at - last >= policy.soft_error_spacing):
            count, last = count + 1, at
            reason = "mailbox_full" if kind == "soft_full" else "unreachable"
            if count >= policy.soft_errors_to_quarantine:
                status = "quarantine"
                release = at + policy.mailbox_full_release_after if kind == "soft_full" else None
            else:
                status = "erroneous"
    return status, count, reason, release


def rules(
    state: AddressState, kind: str, at: datetime, policy: QuarantinePolicy = POLICY
) -> AddressState:
    if kind == "job":
        return settle(state, at, policy)
    if kind == "success":
        return apply_success(state, at, policy)
    error_type, reason = {
        "hard": (HARD, UNKNOWN),
        "soft": (SOFT, UNREACHABLE),
        "soft_full": (SOFT, FULL),
        "ignored": (IGNORED, FailureReason.ERROR_IGNORED),
    }[kind]
    return apply_failure(state, error_type, reason, at, policy)


# Gaps in hours, weighted towards the boundaries of the windows (24 h, 10 d, 30 d).
GAPS = st.one_of(
    st.sampled_from([0, 1, 23, 24, 25, 239, 240, 241, 719, 720, 721]),
    st.integers(min_value=0, max_value=24 * 40),
)
SEQUENCES = st.lists(st.tuples(st.sampled_from(KINDS), GAPS), max_size=40)


def timeline(sequence: list[tuple[str, int]]) -> list[tuple[str, datetime]]:
    at, events = T0, []
    for kind, gap in sequence:
        at += timedelta(hours=gap)
        events.append((kind, at))
    return events


@settings(max_examples=400)
@given(SEQUENCES)
def test_the_rules_agree_with_the_reference_after_every_event(
    sequence: list[tuple[str, int]],
) -> None:
    events = timeline(sequence)
    state = FRESH
    for i, (kind, at) in enumerate(events):
        state = rules(state, kind, at)
        expected = reference(events[: i + 1])

        assert (state.error_status.value, state.error_count, state.reason, state.release_at) == (
            expected
        ), events[: i + 1]


@settings(max_examples=200)
@given(
    st.lists(st.tuples(st.sampled_from(KINDS), GAPS), max_size=30),
    st.integers(min_value=1, max_value=72),
    st.integers(min_value=1, max_value=10),
    st.integers(min_value=1, max_value=30),
)
def test_other_policies_agree_with_the_reference_too(
    sequence: list[tuple[str, int]], spacing_h: int, threshold: int, reset_d: int
) -> None:
    policy = QuarantinePolicy(
        soft_error_spacing=timedelta(hours=spacing_h),
        soft_errors_to_quarantine=threshold,
        counter_reset_after=timedelta(days=reset_d),
        mailbox_full_release_after=timedelta(days=reset_d * 2),
    )
    events = timeline(sequence)
    state = FRESH
    for kind, at in events:
        state = rules(state, kind, at, policy)

    assert (state.error_status.value, state.error_count, state.reason, state.release_at) == (
        reference(events, policy)
    )


@settings(max_examples=200)
@given(SEQUENCES, st.lists(st.booleans(), max_size=40))
def test_when_the_daily_job_runs_never_changes_the_outcome(
    sequence: list[tuple[str, int]], job_after: list[bool]
) -> None:
    events = timeline(sequence)
    end = (events[-1][1] if events else T0) + DAY
    with_jobs, without = FRESH, FRESH
    for i, (kind, at) in enumerate(events):
        with_jobs = rules(with_jobs, kind, at)
        without = rules(without, kind, at)
        if i < len(job_after) and job_after[i]:
            with_jobs = settle(with_jobs, at + timedelta(hours=1), POLICY)

    final_with, final_without = settle(with_jobs, end, POLICY), settle(without, end, POLICY)
    assert (final_with.error_status, final_with.error_count) == (
        final_without.error_status,
        final_without.error_count,
    )


@given(SEQUENCES, st.sampled_from(["hard", "soft", "soft_full", "success"]))
def test_the_same_feedback_twice_is_the_same_as_once(
    sequence: list[tuple[str, int]], kind: str
) -> None:
    events = timeline(sequence)
    state = FRESH
    for each, at in events:
        state = rules(state, each, at)
    at = (events[-1][1] if events else T0) + timedelta(hours=1)

    once = rules(state, kind, at)

    assert rules(once, kind, at) == once


def test_an_operators_quarantine_is_never_released_by_time() -> None:
    full = soft_errors([T0 + i * DAY for i in range(5)], reason=FULL)
    by_operator = replace(full, reason="spam trap")

    assert settle(by_operator, T0 + 100 * DAY, POLICY) == by_operator


# ------------------------------------------------- arrival order and repeats (order-free)
# SES delivers feedback at least once and in any order: the state must be the one the
# reference gives for the history in time order, whatever the arrival order.

FEEDBACK_KINDS = ("hard", "soft", "soft_full", "ignored", "success")
HISTORIES = st.lists(st.tuples(st.sampled_from(FEEDBACK_KINDS), GAPS), max_size=30)
Keyed = tuple[str, datetime, str]


def keyed(events: list[tuple[str, datetime]]) -> list[Keyed]:
    """Each piece of feedback with its key (a message id names it in SES)."""
    return [(kind, at, f"m{number:03d}") for number, (kind, at) in enumerate(events)]


def recorded(state: AddressState, event: Keyed, policy: QuarantinePolicy) -> AddressState:
    kind, at, key = event
    error_type, reason = {
        "hard": (HARD, UNKNOWN),
        "soft": (SOFT, UNREACHABLE),
        "soft_full": (SOFT, FULL),
        "ignored": (IGNORED, FailureReason.ERROR_IGNORED),
        "success": (None, None),
    }[kind]
    occurrence = occurrence_of(error_type, reason, at, key)
    return record(state, occurrence, policy) if occurrence else state


def in_order(events: list[Keyed], end: datetime) -> list[tuple[str, datetime]]:
    """The history as the reference reads it: time order (then key), then the clock."""
    ordered = sorted(events, key=lambda event: (event[1], event[2]))
    return [(kind, at) for kind, at, _ in ordered] + [("job", end)]


def health(state: AddressState) -> tuple[str, int, str | None, datetime | None]:
    return state.error_status.value, state.error_count, state.reason, state.release_at


@settings(max_examples=400)
@given(HISTORIES, st.randoms(use_true_random=False), st.lists(st.integers(0, 29), max_size=10))
def test_any_arrival_order_with_repeats_gives_the_state_of_the_ordered_history(
    sequence: list[tuple[str, int]], random: Random, repeats: list[int]
) -> None:
    policy = replace(POLICY, reorder_window=timedelta(days=3650))
    events = keyed(timeline(sequence))
    arrivals = events + [events[i] for i in repeats if i < len(events)]
    random.shuffle(arrivals)
    end = max((at for _, at, _ in events), default=T0) + DAY
    state, newest = FRESH, T0
    for number, event in enumerate(arrivals):
        state = recorded(state, event, policy)
        newest = max(newest, event[1])
        if number % 3 == 2:  # the daily job tidies now and then: it changes nothing
            state = settle(state, newest + timedelta(hours=1), policy)

    assert health(settle(state, end, policy)) == reference(in_order(events, end), policy)


@settings(max_examples=300)
@given(
    HISTORIES,
    st.lists(st.integers(0, 14 * 24), min_size=30, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 14 * 24)), max_size=10),
)
def test_feedback_late_by_up_to_the_reorder_window_counts_as_in_order(
    sequence: list[tuple[str, int]], delays: list[int], repeats: list[tuple[int, int]]
) -> None:
    """Long histories, with the outcomes past the window folded into the base: each
    piece of feedback arrives up to the (default) reorder window after its own time."""
    events = keyed(timeline(sequence))
    arrivals = [
        (at + timedelta(hours=delays[i]), (kind, at, key))
        for i, (kind, at, key) in enumerate(events)
    ]
    arrivals += [
        (events[i][1] + timedelta(hours=delay), events[i])
        for i, delay in repeats
        if i < len(events)
    ]
    end = max((arrived for arrived, _ in arrivals), default=T0) + DAY
    state = FRESH
    for _, event in sorted(arrivals, key=lambda arrival: arrival[0]):
        state = recorded(state, event, POLICY)

    assert health(settle(state, end, POLICY)) == reference(in_order(events, end))
    assert all(state.occurrences[-1].at - o.at <= POLICY.reorder_window for o in state.occurrences)


def test_five_soft_bounces_two_days_apart_quarantine_whichever_arrives_first() -> None:
    bounces = [("soft", T0 + 2 * i * DAY, f"m{i}") for i in range(5)]
    oldest_first, newest_first = FRESH, FRESH
    for event in bounces:
        oldest_first = recorded(oldest_first, event, POLICY)
    for event in reversed(bounces):
        newest_first = recorded(newest_first, event, POLICY)

    assert health(newest_first) == health(oldest_first)
    assert (newest_first.status, newest_first.error_count) == (AddressStatus.QUARANTINE, 5)


def test_a_late_success_dated_before_the_fifth_error_undoes_the_quarantine() -> None:
    state = FRESH
    for i in range(5):
        state = recorded(state, ("soft", T0 + 2 * i * DAY, f"m{i}"), POLICY)
    assert state.status is AddressStatus.QUARANTINE

    state = recorded(state, ("success", T0 + 5 * DAY, "d1"), POLICY)

    assert (state.status, state.error_count) == (AddressStatus.ERRONEOUS, 2)


def test_feedback_dated_before_an_operators_release_no_longer_counts() -> None:
    state = recorded(FRESH, ("hard", T0, "m1"), POLICY)
    released = release_errors(state, T0 + DAY)

    late = recorded(released, ("hard", T0 + timedelta(hours=1), "m2"), POLICY)
    after = recorded(released, ("hard", T0 + 2 * DAY, "m3"), POLICY)

    assert late is released
    assert after.status is AddressStatus.QUARANTINE


def test_an_address_keeps_only_its_reorder_window_of_outcomes() -> None:
    state = FRESH
    for day in range(200):
        state = recorded(state, ("success", T0 + day * DAY, f"d{day}"), POLICY)

    assert len(state.occurrences) == POLICY.reorder_window.days + 1


@settings(max_examples=100)
@given(HISTORIES, st.booleans())
def test_the_kept_outcomes_survive_the_address_item(
    sequence: list[tuple[str, int]], decided: bool
) -> None:
    state = FRESH
    for event in keyed(timeline(sequence)):
        state = recorded(state, event, POLICY)
    if decided:
        state = release_errors(state, T0 + timedelta(microseconds=7))

    assert address_store.to_state(address_store.to_item(state, version=1)) == replace(
        state, version=1
    )


LATER = T0 + timedelta(hours=3)


@pytest.mark.parametrize(
    ("detail", "effective"),
    [
        ({"processed_at": LATER.isoformat()}, LATER),  # feedback, as stored
        ({"processed_at": LATER}, LATER),  # as written
        ({"processed_at": LATER.isoformat(), "decided_at": (LATER + DAY).isoformat()}, LATER + DAY),
        ({}, T0),  # an operator's or a schedule's event, or one recorded before processed_at
    ],
)
def test_an_event_takes_effect_when_its_detail_says_or_else_at_its_own_time(
    detail: dict[str, object], effective: datetime
) -> None:
    event = AddressEvent(
        channel=Channel.EMAIL,
        address=Address("a@example.com"),
        event_id="e",
        at=T0,
        kind="bounce",
        detail=detail,
    )

    assert event.effective_at == effective
