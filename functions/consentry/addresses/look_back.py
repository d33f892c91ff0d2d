"""A hold's pass over the failures applied before it: the outage guard's retroactive hold.

Failures the window applied before the hold began are the same outage, detected late:
the pass puts them on hold too, restoring each address to its state before them, as
long as nothing else changed the address since (a success, an operator, a complaint).
Those it cannot restore stay applied; the operator's bulk release (by domain and time
window) covers them. The window counts failures when they are processed, so these are
found by when they took effect, not by when they happened: the bounces of a backlog
that trips the window are held with the rest, back to the reorder window.

The pass reads the domain's erroneous, then quarantined addresses written since the
window began, a page at a time, and records on the hold where it stands, under a lease
that keeps it to one function at a time (`domain_windows`). Two kinds of function run
it, each with a budget of pages: the feedback function, at the failures of the domain
(`quarantine.outage`), and the operator API or the console, when an operator releases the
outage (`consent.logic.addresses.decide`): a release finishes the pass before it ends the hold.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from consentry.addresses import address_store, domain_windows, history_store
from consentry.addresses.counting import QuarantinePolicy, restore_errors, without
from consentry.addresses.domain_windows import Hold, LookBack
from consentry.addresses.events import EventKind, split_held_key
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.clock import Clock
from consentry.core.observability import logger, metrics
from consentry.core.persistence import LostRace

PAGE = 100
QUARANTINE_SERVICE = "quarantine"
"""The service a pass's failures are counted under, whichever function ran it: the
feedback function's (POWERTOOLS_SERVICE_NAME), which OutageLookBackFailedAlarm watches."""
LOOK_BACK_LEASE = timedelta(seconds=90)
"""How long a function has the pass to itself: longer than the timeout of the functions
that run it, so a pass cut short by one is taken over by the next after that."""
_STATUSES = (AddressStatus.ERRONEOUS, AddressStatus.QUARANTINE)


class LookBackPass:
    """One function's share of holds' passes: at most `pages` pages of addresses, over
    all the holds it runs."""

    def __init__(self, policy: QuarantinePolicy, clock: Clock, pages: int) -> None:
        self._policy = policy
        self._clock = clock
        self.pages_left = pages

    def take_over(self, hold: Hold, now: datetime) -> int | None:
        """Go on with the hold's pass, when nobody runs it (its last runner ran out of
        pages, or ended midway by its timeout or an error, and its lease is over); how
        many errors it held, None when it did not run (no pass, no pages, or another
        function has it)."""
        look_back = hold.look_back
        if look_back is None or look_back.lease > now or not self.pages_left:
            return None
        taken = replace(look_back, lease=now + LOOK_BACK_LEASE)
        if not domain_windows.lease_look_back(hold.key, look_back, until=taken.lease):
            return None
        return self.hold_applied(hold.key, taken, now)

    def hold_applied(self, key: str, look_back: LookBack, now: datetime) -> int:
        """Put the window's applied failures of the domain on hold, from where the pass
        stands, with what is left of the pages; how many errors. Where it stands is
        recorded page by page, so a pass cut short goes on from there, and a record
        refused (the hold ended, another function has the pass) stops it. The caller
        holds the lease `look_back.lease`."""
        channel, domain = split_held_key(key)
        status, cursor = _position(look_back.cursor)
        held = 0
        while self.pages_left:
            self.pages_left -= 1
            page = address_store.addresses_with_status(
                channel,
                status,
                domain=domain,
                written_since=look_back.since,
                limit=PAGE,
                cursor=cursor,
            )
            held += sum(self._hold_address(state, key, look_back, now) for state in page.items)
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
        # Out of pages: the next function with pages goes on, at once.
        domain_windows.save_look_back(key, look_back.lease, replace(look_back, lease=self._clock()))
        return held

    def _hold_address(
        self, state: AddressState, key: str, look_back: LookBack, now: datetime
    ) -> int:
        """Put the address's failures applied since the pass's start on hold, when they
        are the last things that changed it, and the pass is still the caller's; how
        many. Read back to the reorder window: older feedback went into the base health
        when it was applied (counting.record) and cannot be taken out again, so it stays
        applied."""
        recent = history_store.events_since(
            state.channel, state.address, now - self._policy.reorder_window
        )
        applied = sorted(
            (event for event in recent if event.effective_at >= look_back.since),
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
            held = history_store.hold_retroactively(
                state,
                restored,
                run[::-1],
                key,
                now,
                still_holding=lambda tx: domain_windows.check_pass(tx, key, look_back.lease),
            )
        except LostRace:
            return 0  # changed meanwhile, or the pass is no longer ours: the next record says
        return len(run) if held else 0


def _position(saved: str | None) -> tuple[AddressStatus, str | None]:
    """The status and page cursor a pass goes on from (`_position_key`'s inverse)."""
    if saved is None:
        return _STATUSES[0], None
    status, _, cursor = saved.partition(" ")
    return AddressStatus(status), cursor or None


def _position_key(status: AddressStatus, cursor: str | None) -> str:
    return f"{status.value} {cursor or ''}"


def report_failure(key: str) -> None:
    """Log a pass that failed (it stays where it last stood, for the next function once
    its lease is over), and count it as the quarantine's: the alarm on it watches one
    service, while the operator API and the console run passes too."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric  # noqa: PLC0415 (rare)

    logger.exception("outage: the look back failed", extra={"domain_key": key})
    with single_metric(
        name="OutageLookBackFailed",
        unit=MetricUnit.Count,
        value=1,
        namespace=metrics.namespace,
        default_dimensions={"service": QUARANTINE_SERVICE},
    ):
        pass
