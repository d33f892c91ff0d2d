"""The outage guard: a burst of failures for one recipient domain is an outage, not N bad
addresses (domain.md section 2). Its failures are held for an operator's decision.

Per domain (`<channel>#<domain>`) the guard counts attempts (every piece of feedback)
and failures (hard and soft errors) in buckets of a sliding window. A failure that
takes the window past both thresholds starts a hold; while the hold lasts, failures of
that domain are recorded as held events instead of being counted.

Failures the window applied before the hold began are the same outage, detected
late: when the hold starts, the guard puts them on hold too (`look_back`, a pass of a
few pages per invocation; the next failure of the domain goes on from where it
stands, as does an operator's release).

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
from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit

from consentry.addresses import domain_windows
from consentry.addresses.counting import QuarantinePolicy, bucket_start, is_outage, window_start
from consentry.addresses.domain_windows import Hold, LookBack
from consentry.addresses.events import held_key
from consentry.addresses.feedback import AddressFeedback
from consentry.addresses.look_back import LOOK_BACK_LEASE, LookBackPass, report_failure
from consentry.addresses.status import address_domain
from consentry.core.clock import Clock
from consentry.core.observability import logger, metrics

PAGES_PER_INVOCATION = 5
"""An invocation reads at most this many pages of addresses looking back (one query and
at most one transaction per address: seconds of its 60), then leaves the rest to the
next invocation that has a failure of the domain."""


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
        self._pass = LookBackPass(policy, clock, PAGES_PER_INVOCATION)
        """This invocation's share of look backs (a guard serves one invocation)."""

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
        try:
            held = self._pass.take_over(hold, now)
        except Exception:
            report_failure(hold.key)
            return
        if held is not None:
            self._count_held(held)
            logger.info(
                "outage: went on holding the failures applied before the hold",
                extra={"domain_key": hold.key, "held_retroactively": held},
            )

    def _look_back(self, key: str, look_back: LookBack, now: datetime) -> int:
        """The pass a new hold starts, which never fails the failure that runs it (held
        all the same): a pass that fails is left, where it last stood, to the next
        function once its lease is over."""
        try:
            held = self._pass.hold_applied(key, look_back, now)
        except Exception:
            report_failure(key)
            return 0
        self._count_held(held)
        return held

    @staticmethod
    def _count_held(held: int) -> None:
        if held:
            metrics.add_metric(name="FeedbackHeld", unit=MetricUnit.Count, value=held)

    def _expiry(self, bucket: int) -> datetime:
        """Counters outlive their bucket by one window, then TTL removes them."""
        lifetime = self._policy.outage_bucket + self._policy.outage_window
        return datetime.fromtimestamp(bucket + int(lifetime.total_seconds()), UTC)
