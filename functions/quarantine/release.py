"""The daily run: resets and releases that fell due under the counting rules, with history.

Counters of erroneous addresses reset once their last counted error is older than the
policy says; mailbox-full quarantines end when their release time has come. Both are
found through the sparse by-status index, filtered on the due time. Every change is
written with its event, conditioned on the version read, so a concurrent feedback
wins and the address waits for the next run. A run that runs out of time stops
cleanly; the next one starts over (what was done is no longer due).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from consentry.addresses import address_store, history_store
from consentry.addresses.counting import QuarantinePolicy, error_snapshot, settle
from consentry.addresses.events import SCHEDULE_ACTOR, AddressEvent, EventKind, change_id
from consentry.addresses.reasons import FailureReason
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.persistence import LostRace
from consentry.core.types import Channel

PAGE = 100
COUNTER_RESET = "counter_reset"
RELEASE = "quarantine_released"


@dataclass
class DueRun:
    """What a run examined and changed, and whether it got through every due address."""

    examined: int = 0
    reset: int = 0
    released: int = 0
    conflicts: int = 0
    complete: bool = True


def run_due(now: datetime, policy: QuarantinePolicy, *, out_of_time: Callable[[], bool]) -> DueRun:
    run = DueRun()
    for channel in Channel:
        for status in (AddressStatus.ERRONEOUS, AddressStatus.QUARANTINE):
            cursor: str | None = None
            while True:
                if out_of_time():
                    run.complete = False
                    return run
                page = address_store.addresses_with_status(
                    channel,
                    status,
                    error_until=now - policy.counter_reset_after
                    if status is AddressStatus.ERRONEOUS
                    else None,
                    release_due_by=now if status is AddressStatus.QUARANTINE else None,
                    reason=FailureReason.MAILBOX_FULL.value
                    if status is AddressStatus.QUARANTINE
                    else None,
                    limit=PAGE,
                    cursor=cursor,
                )
                for state in page.items:
                    run.examined += 1
                    _settle_one(state, now, policy, run)
                cursor = page.cursor
                if cursor is None:
                    break
    return run


def _settle_one(state: AddressState, now: datetime, policy: QuarantinePolicy, run: DueRun) -> None:
    settled = settle(state, now, policy)
    if settled == state:
        return
    released = state.error_status is AddressStatus.QUARANTINE
    event = AddressEvent(
        channel=state.channel,
        address=state.address,
        event_id=change_id(now, EventKind.SCHEDULED, state),
        at=now,
        kind=EventKind.SCHEDULED,
        reason=RELEASE if released else COUNTER_RESET,
        actor=SCHEDULE_ACTOR,
        detail={"changed": True, "before": error_snapshot(state)},
    )
    try:
        history_store.record(state, settled, event)
    except LostRace:
        run.conflicts += 1
        return
    if released:
        run.released += 1
    else:
        run.reset += 1
