"""The counting rules of the quarantine (domain.md section 2), as pure functions.

Every window and threshold is a field of `QuarantinePolicy`, built once from the
settings; time comes in as an argument (the feedback's own time, or the clock of the
daily job), never from inside a rule.

- hard error: quarantine at once;
- soft error: counted only when at least `soft_error_spacing` after the last counted
  error; the `soft_errors_to_quarantine`-th counted one quarantines;
- more than `counter_reset_after` since the last counted error: the counter resets;
- a success resets the counter (one older than the last counted error does not);
- ignored errors never count;
- a mailbox-full quarantine is released `mailbox_full_release_after` after it began;
  no other quarantine is released automatically.

Resets and releases fall due with time alone. `settle` applies what is due; every
rule settles first, so the daily job and a late feedback agree on the outcome.

Feedback arrives at least once and in any order, so the health is not counted up as
feedback arrives: `record` keeps each dated outcome once (by its feedback key) and
`recount` replays the rules over them in time order, from the `base` health. Only
the outcomes of the reorder window (those less than `reorder_window` older than the
newest) are kept; older ones are folded into the base. The health therefore depends
only on the set of outcomes received, whatever their order, for every outcome that
arrives within the reorder window of its own time.

The outage guard is here too: failures of one domain within `outage_window` that
pass both thresholds are held instead of counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Self

from consentry.addresses.reasons import ErrorType, FailureReason
from consentry.addresses.status import (
    AddressState,
    AddressStatus,
    ErrorHealth,
    Occurrence,
    Outcome,
    decided,
    health_document,
    health_of,
    with_health,
)
from consentry.core.settings import Settings
from consentry.core.types import Address, Channel


@dataclass(frozen=True, kw_only=True)
class QuarantinePolicy:
    """The counting rules' parameters, from the settings (which hold them to their
    bounds: `Settings.from_environment`)."""

    soft_error_spacing: timedelta = timedelta(hours=24)
    soft_errors_to_quarantine: int = 5
    counter_reset_after: timedelta = timedelta(days=10)
    mailbox_full_release_after: timedelta = timedelta(days=30)
    reorder_window: timedelta = timedelta(days=14)
    """How late feedback may arrive and still count as if it had come in order."""

    outage_window: timedelta = timedelta(hours=1)
    outage_bucket: timedelta = timedelta(minutes=5)
    """Granularity of the sliding outage window (its counters are kept per bucket)."""
    outage_min_failures: int = 50
    outage_min_failure_ratio: float = 0.3
    outage_hold_max: timedelta = timedelta(hours=72)
    """A hold nobody decides on ends by itself after this (the alarm fires meanwhile)."""
    outage_attempts_flush: timedelta = timedelta(seconds=30)
    """How long a function keeps attempt counts in memory before it writes them."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(
            soft_error_spacing=timedelta(hours=settings.soft_error_spacing_hours),
            soft_errors_to_quarantine=settings.soft_errors_to_quarantine,
            counter_reset_after=timedelta(days=settings.error_counter_reset_days),
            mailbox_full_release_after=timedelta(days=settings.mailbox_full_release_days),
            reorder_window=timedelta(days=settings.feedback_reorder_window_days),
            outage_window=timedelta(minutes=settings.outage_window_minutes),
            outage_bucket=timedelta(minutes=settings.outage_bucket_minutes),
            outage_min_failures=settings.outage_min_failures,
            outage_min_failure_ratio=settings.outage_min_failure_ratio,
            outage_hold_max=timedelta(hours=settings.outage_hold_max_hours),
            outage_attempts_flush=timedelta(seconds=settings.outage_attempts_flush_seconds),
        )


def settle(state: AddressState, now: datetime, policy: QuarantinePolicy) -> AddressState:
    """The state once the resets and releases due by `now` are applied.

    Every reader of a verdict reads the stored state through this with its clock: a
    release or reset takes effect when it falls due, whether the daily job (which only
    tidies what is stored) has run or not."""
    due = released_by_time(state, now) or (
        state.error_status is AddressStatus.ERRONEOUS
        and state.last_counted_error_at is not None
        and now - state.last_counted_error_at > policy.counter_reset_after
    )
    return _healthy(state, now) if due else state


def released_by_time(state: AddressState, now: datetime) -> bool:
    """Whether the address is in a quarantine that ended by itself by `now`.

    Only a mailbox-full quarantine ends by itself (an operator's quarantine of an
    address that had one may still carry its release time)."""
    return (
        state.error_status is AddressStatus.QUARANTINE
        and state.reason == FailureReason.MAILBOX_FULL
        and state.release_at is not None
        and now >= state.release_at
    )


def apply_failure(
    state: AddressState,
    error_type: ErrorType,
    reason: FailureReason,
    at: datetime,
    policy: QuarantinePolicy,
) -> AddressState:
    """The state after a delivery failure at `at`; the same object when nothing changes."""
    current = settle(state, at, policy)
    if error_type is ErrorType.IGNORED:
        return current
    quarantined = current.error_status is AddressStatus.QUARANTINE
    if error_type is ErrorType.HARD:
        if quarantined and current.release_at is None:
            return current  # already quarantined for good
        return replace(
            current,
            error_status=AddressStatus.QUARANTINE,
            reason=reason.value,
            error_count=current.error_count + 1,
            last_counted_error_at=at,
            release_at=None,
            updated_at=at,
        )
    last = current.last_counted_error_at
    if quarantined or (last is not None and at - last < policy.soft_error_spacing):
        return current
    count = current.error_count + 1
    if count < policy.soft_errors_to_quarantine:
        status, release_at = AddressStatus.ERRONEOUS, None
    else:
        status = AddressStatus.QUARANTINE
        mailbox_full = reason is FailureReason.MAILBOX_FULL
        release_at = at + policy.mailbox_full_release_after if mailbox_full else None
    return replace(
        current,
        error_status=status,
        reason=reason.value,
        error_count=count,
        last_counted_error_at=at,
        release_at=release_at,
        updated_at=at,
    )


def apply_success(state: AddressState, at: datetime, policy: QuarantinePolicy) -> AddressState:
    """The state after a successful delivery at `at`: it resets a counter, never a quarantine."""
    current = settle(state, at, policy)
    last = current.last_counted_error_at
    if current.error_status is AddressStatus.ERRONEOUS and (last is None or at >= last):
        return _healthy(current, at)
    return current


def _healthy(state: AddressState, at: datetime) -> AddressState:
    return replace(
        state,
        error_status=AddressStatus.VALID,
        reason=None,
        error_count=0,
        last_counted_error_at=None,
        release_at=None,
        updated_at=at,
    )


def release_errors(state: AddressState, at: datetime) -> AddressState:
    """An operator's release of the delivery errors alone; denylist and allowlist stay."""
    if state.error_status is AddressStatus.VALID and state.error_count == 0:
        return state
    return decided(state, ErrorHealth(), at)


# ------------------------------------------------------------- order-free counting
def occurrence_of(
    error_type: ErrorType | None, reason: FailureReason | None, at: datetime, key: str
) -> Occurrence | None:
    """The outcome a piece of delivery feedback is for the counting rules: a failure
    (`error_type` given) or a success; None for an ignored error."""
    if error_type is None:
        return Occurrence(at=at, key=key, outcome=Outcome.SUCCESS)
    if error_type is ErrorType.IGNORED:
        return None
    outcome = Outcome.HARD if error_type is ErrorType.HARD else Outcome.SOFT
    return Occurrence(at=at, key=key, outcome=outcome, reason=reason.value if reason else None)


def record(state: AddressState, occurrence: Occurrence, policy: QuarantinePolicy) -> AddressState:
    """The state once `occurrence` is among the address's outcomes; the same object
    when it is known already, or an operator decided after it."""
    if state.decided_at is not None and occurrence.at < state.decided_at:
        return state
    if any(known.key == occurrence.key for known in state.occurrences):
        return state
    kept = tuple(sorted((*state.occurrences, occurrence), key=_order))
    base = state.base if state.base is not None else state.health
    newest = kept[-1].at
    folded = [o for o in kept if newest - o.at > policy.reorder_window]
    if folded:
        base = replay(base, folded, policy)
        kept = kept[len(folded) :]
    health = replay(base, kept, policy)
    updated = replace(state, base=base, occurrences=kept)
    if health == state.health:
        return updated
    return replace(with_health(updated, health), updated_at=occurrence.at)


def without(
    state: AddressState, keys: set[str], policy: QuarantinePolicy, at: datetime
) -> AddressState:
    """The state as if the outcomes named by `keys` had never arrived."""
    kept = tuple(o for o in state.occurrences if o.key not in keys)
    base = state.base if state.base is not None else state.health
    health = replay(base, kept, policy)
    return replace(with_health(state, health), base=base, occurrences=kept, updated_at=at)


def replay(
    base: ErrorHealth, occurrences: Iterable[Occurrence], policy: QuarantinePolicy
) -> ErrorHealth:
    """The health after `occurrences`, applied in time order (then by key) to `base`."""
    state = with_health(AddressState(channel=Channel.EMAIL, address=Address("")), base)
    for occurrence in sorted(occurrences, key=_order):
        if occurrence.outcome is Outcome.SUCCESS:
            state = apply_success(state, occurrence.at, policy)
        else:
            state = apply_failure(
                state,
                ErrorType.HARD if occurrence.outcome is Outcome.HARD else ErrorType.SOFT,
                FailureReason(occurrence.reason or FailureReason.UNREACHABLE.value),
                occurrence.at,
                policy,
            )
    return state.health


def _order(occurrence: Occurrence) -> tuple[datetime, str]:
    return occurrence.at, occurrence.key


def bucket_start(at: datetime, policy: QuarantinePolicy) -> int:
    """The epoch second at which the outage-window bucket holding `at` begins."""
    size = int(policy.outage_bucket.total_seconds())
    return int(at.timestamp()) // size * size


def window_start(now: datetime, policy: QuarantinePolicy) -> int:
    """The first bucket of the window that ends with the bucket holding `now`."""
    return bucket_start(now - policy.outage_window, policy) + int(
        policy.outage_bucket.total_seconds()
    )


def is_outage(failures: int, attempts: int, policy: QuarantinePolicy) -> bool:
    """Whether a domain's failures in the window look like an outage, not bad addresses."""
    if failures < policy.outage_min_failures:
        return False
    return failures >= policy.outage_min_failure_ratio * max(attempts, failures)


def error_snapshot(state: AddressState) -> dict[str, Any]:
    """The delivery-health fields of a state, as an event keeps them to undo a change."""
    return health_document(state.health)


def restore_errors(state: AddressState, snapshot: dict[str, Any], at: datetime) -> AddressState:
    """`state` with the delivery-health fields of `snapshot` (denylist and allowlist stay)."""
    return replace(with_health(state, health_of(snapshot)), updated_at=at)
