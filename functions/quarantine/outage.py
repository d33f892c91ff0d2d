"""The outage guard: a burst of failures for one recipient domain is an outage, not N bad
addresses (domain.md section 2). Its failures are held for an operator's decision.

Per domain (`<channel>#<domain>`) the guard counts attempts (every piece of feedback)
and failures (hard and soft errors) in buckets of a sliding window. A failure that
takes the window past both thresholds starts a hold; while the hold lasts, failures of
that domain are recorded as held events instead of being counted.

Failures the window applied before the hold began are the same outage, detected
late: when the hold starts, the guard puts them on hold too, restoring each address
to its state before them, as long as nothing else changed the address since (a
success, an operator, a complaint). Those it cannot restore stay applied; the
operator's bulk release (by domain and time window) covers them. The window counts
failures when they are processed, so these are found by when they took effect, not by
when they happened: the bounces of a backlog that trips the window are held with the
rest, back to the reorder window. An invocation reads PAGES_PER_INVOCATION pages at
most, and records on the hold where the pass stands: the next failure of the domain
goes on from there (the lease keeps it to one function at a time, and passes to the
next one when a function ends midway, by its timeout or an error).

Counters are statistics: a redelivered notification counts again as an attempt, which
only makes the guard slower to trip by that much. Failures are written as they come
(the trip depends on them); other feedback, most of it deliveries, is added up in the
function's memory across invocations (`PendingAttempts`) and written once per domain
and bucket every `outage_attempts_flush`, so a delivery costs no write of its own.
Counts of a container that ends before its flush are lost; the window lags the
stored attempts by at most that interval.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import MetricUnit

from consentry.addresses import address_store, domain_windows, history_store
from consentry.addresses.counting import (
    QuarantinePolicy,
    bucket_start,
    is_outage,
    restore_errors,
    window_start,
    without,
)
from consentry.addresses.domain_windows import Hold, LookBack
from consentry.addresses.events import EventKind, held_key, split_held_key
from consentry.addresses.feedback import AddressFeedback
from consentry.addresses.status import AddressState, AddressStatus, address_domain
from consentry.core.clock import Clock
from consentry.core.observability import logger, metrics
from consentry.core.persistence import LostRace

PAGE = 100
PAGES_PER_INVOCATION = 5
"""An invocation reads at most this many pages of addresses looking back (one query and
at most one transaction per address: seconds of its 60), then leaves the rest to the
next invocation that has a failure of the domain."""
LOOK_BACK_LEASE = timedelta(seconds=90)
"""How long a function has the pass to itself: longer than the feedback function's
timeout, so a pass cut short by it is taken over by the next failure after that."""
_STATUSES = (AddressStatus.ERRONEOUS, AddressStatus.QUARANTINE)


class PendingAttempts:
    """Attempts counted in memory, by (domain key, bucket), until they are written."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, int]] = Counter()
        self.flushed_at: datetime | None = None

    def clear(self) -> None:
        self.counts.clear()
        self.flushed_at = None


class OutageGuard:
    def __init__(
        self, policy: QuarantinePolicy, clock: Clock, pending: PendingAttempts | None = None
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._pending = pending or PendingAttempts()
        self._pages_left = PAGES_PER_INVOCATION
        """Of this invocation's look back (a guard serves one invocation)."""

    def key_of(self, feedback: AddressFeedback) -> str:
        return held_key(feedback.channel, address_domain(feedback.channel, feedback.address))

    def count_attempt(self, feedback: AddressFeedback) -> None:
        """Count feedback that is not a failure; written by `flush`."""
        bucket = bucket_start(self._clock(), self._policy)
        self._pending.counts[(self.key_of(feedback), bucket)] += 1

    def count_failure(self, feedback: AddressFeedback) -> None:
        now = self._clock()
        bucket = bucket_start(now, self._policy)
        domain_windows.add_counts(
            self.key_of(feedback), bucket, attempts=1, failures=1, expires=self._expiry(bucket)
        )

    def flush(self) -> None:
        """Write the attempts counted since the last flush, one write per domain and
        bucket, once `outage_attempts_flush` has passed since the last one."""
        now = self._clock()
        last = self._pending.flushed_at
        if last is not None and now - last < self._policy.outage_attempts_flush:
            return
        self._pending.flushed_at = now
        while self._pending.counts:
            (key, bucket), attempts = self._pending.counts.popitem()
            domain_windows.add_counts(
                key, bucket, attempts=attempts, failures=0, expires=self._expiry(bucket)
            )

    def hold_key(self, feedback: AddressFeedback) -> str | None:
        """The key to hold this failure under, or None when it is to be counted."""
        key = self.key_of(feedback)
        now = self._clock()
        first = window_start(now, self._policy)
        window = domain_windows.read_window(key, first)
        if window.hold is not None and window.hold.active(now):
            self._go_on_looking_back(window.hold, now)
            return key
        pending = sum(
            count
            for (each, bucket), count in self._pending.counts.items()
            if each == key and bucket >= first
        )
        failures = window.failures + 1
        attempts = window.attempts + pending + 1
        if not is_outage(failures, attempts, self._policy):
            return None
        look_back = LookBack(
            since=datetime.fromtimestamp(first, UTC), cursor=None, lease=now + LOOK_BACK_LEASE
        )
        started = domain_windows.start_hold(
            key,
            now=now,
            until=now + self._policy.outage_hold_max,
            failures=failures,
            attempts=attempts,
            look_back=look_back,
        )
        if started:
            metrics.add_metric(name="OutageDetected", unit=MetricUnit.Count, value=1)
            held = self._look_back(key, look_back, now)
            logger.warning(
                "outage suspected: holding the domain's failures",
                extra={
                    "domain_key": key,
                    "failures": failures,
                    "attempts": attempts,
                    "held_retroactively": held,
                },
            )
        return key

    def _go_on_looking_back(self, hold: Hold, now: datetime) -> None:
        """Take over a pass that the function running it left unfinished (out of pages,
        ended by its timeout or by an error) once its lease is over."""
        look_back = hold.look_back
        if look_back is None or look_back.lease > now or not self._pages_left:
            return
        taken = replace(look_back, lease=now + LOOK_BACK_LEASE)
        if domain_windows.lease_look_back(hold.key, look_back, until=taken.lease):
            held = self._look_back(hold.key, taken, now)
            logger.info(
                "outage: went on holding the failures applied before the hold",
                extra={"domain_key": hold.key, "held_retroactively": held},
            )

    def _look_back(self, key: str, look_back: LookBack, now: datetime) -> int:
        """`_hold_applied`, which never fails the failure that runs it (held all the
        same): a pass that fails is left, where it last stood, to the next function
        once its lease is over."""
        try:
            return self._hold_applied(key, look_back, now)
        except Exception:
            logger.exception("outage: the look back failed", extra={"domain_key": key})
            metrics.add_metric(name="OutageLookBackFailed", unit=MetricUnit.Count, value=1)
            return 0

    def _hold_applied(self, key: str, look_back: LookBack, now: datetime) -> int:
        """Put the window's applied failures of the domain on hold, from where the pass
        stands, with what is left of this invocation's pages; how many errors. Where it
        stands is recorded page by page, so a pass cut short goes on from there, and a
        record refused (the hold ended, another function has the pass) stops it."""
        channel, domain = split_held_key(key)
        status, cursor = _position(look_back.cursor)
        held = 0
        while self._pages_left:
            self._pages_left -= 1
            page = address_store.addresses_with_status(
                channel,
                status,
                domain=domain,
                written_since=look_back.since,
                limit=PAGE,
                cursor=cursor,
            )
            on_page = sum(
                self._hold_address(state, key, look_back.since, now) for state in page.items
            )
            if on_page:
                metrics.add_metric(name="FeedbackHeld", unit=MetricUnit.Count, value=on_page)
                held += on_page
            cursor = page.cursor
            if cursor is None:
                following = _STATUSES.index(status) + 1
                if following == len(_STATUSES):
                    domain_windows.end_look_back(key, look_back.lease)
                    return held
                status = _STATUSES[following]
            leased = look_back.lease
            look_back = replace(
                look_back,
                cursor=_position_key(status, cursor),
                lease=self._clock() + LOOK_BACK_LEASE,
            )
            if not domain_windows.save_look_back(key, leased, look_back):
                return held
        # Out of pages: the next invocation with a failure of the domain goes on, at once.
        domain_windows.save_look_back(key, look_back.lease, replace(look_back, lease=self._clock()))
        return held

    def _hold_address(self, state: AddressState, key: str, since: datetime, now: datetime) -> int:
        """Put the address's failures applied since `since` on hold, when they are the
        last things that changed it; how many. Read back to the reorder window: older
        feedback went into the base health when it was applied (counting.record) and
        cannot be taken out again, so it stays applied."""
        recent = history_store.events_since(
            state.channel, state.address, now - self._policy.reorder_window
        )
        applied = sorted(
            (event for event in recent if event.effective_at >= since),
            key=lambda event: event.effective_at,
        )
        run = []
        for event in reversed(applied):
            if event.held:
                continue  # held, by this hold meanwhile or an earlier one: it changed nothing
            if event.kind != EventKind.BOUNCE or "decision" in event.detail:
                break
            run.append(event)
        changed = [event for event in run if event.detail.get("changed")]
        keys = {event.key for event in run}
        kept = {occurrence.key for occurrence in state.occurrences}
        if keys & kept:
            if any(event.key not in kept for event in changed):
                return 0  # a change that is not among the outcomes: not ours to undo
            # The outcomes are kept: the state without them is the state held.
            restored = without(state, keys, self._policy, now)
        elif not changed or state.base is not None:
            return 0  # nothing to undo, or outcomes it cannot take out of the base
        elif changed[0].detail.get("version") != state.version:
            return 0  # something else wrote the address since
        else:
            restored = restore_errors(state, changed[-1].detail["before"], now)
        try:
            held = history_store.hold_retroactively(state, restored, run[::-1], key, now)
        except LostRace:
            return 0
        return len(run) if held else 0

    def _expiry(self, bucket: int) -> datetime:
        """Counters outlive their bucket by one window, then TTL removes them."""
        lifetime = self._policy.outage_bucket + self._policy.outage_window
        return datetime.fromtimestamp(bucket + int(lifetime.total_seconds()), UTC)


def _position(saved: str | None) -> tuple[AddressStatus, str | None]:
    """The status and page cursor a pass goes on from (`_position_key`'s inverse)."""
    if saved is None:
        return _STATUSES[0], None
    status, _, cursor = saved.partition(" ")
    return AddressStatus(status), cursor or None


def _position_key(status: AddressStatus, cursor: str | None) -> str:
    return f"{status.value} {cursor or ''}"
