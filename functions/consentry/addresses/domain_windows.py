"""Data access for the outage guard: the only module that maps the domain-windows table.

A domain's partition (`<channel>#<domain>`) holds one counter item per time bucket
(attempts and failures, expiring with TTL once the window has passed) and, at the
fixed slot HOLD_SLOT after every bucket, the domain's hold record while the guard
holds its failures, with where the hold's pass over the failures applied before it
stands. One Query from the window's first bucket reads both.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.expressions.condition import And, Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from consentry.addresses.tables import DomainWindowModel
from consentry.core.persistence import LostRace, dynamodb
from consentry.core.types import Channel

HOLD_SLOT = 9_999_999_999
"""The `window_start` of a hold record: later than any bucket's epoch second."""


@dataclass(frozen=True)
class Hold:
    """The guard holds a domain's failures while `held` and before `until`."""

    key: str
    held: bool
    until: datetime
    failures: int
    attempts: int
    """The window's counts when the hold began."""
    look_back: LookBack | None = None
    """The failures applied before the hold began that are still to be held, if any."""

    @property
    def channel(self) -> Channel:
        return Channel(self.key.partition("#")[0])

    @property
    def domain(self) -> str:
        return self.key.partition("#")[2]

    def active(self, now: datetime) -> bool:
        return self.held and now < self.until


@dataclass(frozen=True)
class LookBack:
    """Where the hold's pass over the failures applied before it stands: it holds those
    applied since `since`, has read up to `cursor` (None: from the start), and is being
    run by one function until `lease` (when that one stopped, the next may go on)."""

    since: datetime
    cursor: str | None
    lease: datetime


@dataclass(frozen=True)
class DomainWindow:
    attempts: int
    failures: int
    hold: Hold | None


def read_window(key: str, first_bucket: int) -> DomainWindow:
    """The counts of the buckets from `first_bucket` on, and the hold record if any."""
    attempts = failures = 0
    hold = None
    with dynamodb():
        for item in DomainWindowModel.query(
            key,
            range_key_condition=DomainWindowModel.window_start >= first_bucket,
            consistent_read=True,  # a hold another function just started must be seen
        ):
            if int(item.window_start) == HOLD_SLOT:
                hold = _to_hold(item)
            else:
                attempts += int(item.attempts)
                failures += int(item.failures)
    return DomainWindow(attempts=attempts, failures=failures, hold=hold)


def add_counts(key: str, bucket: int, *, attempts: int, failures: int, expires: datetime) -> None:
    actions: list[Action] = [
        DomainWindowModel.attempts.add(attempts),
        DomainWindowModel.expires_at.set(expires),
    ]
    if failures:
        actions.append(DomainWindowModel.failures.add(failures))
    with dynamodb():
        DomainWindowModel(key, bucket).update(actions=actions)


def start_hold(
    key: str, *, now: datetime, until: datetime, failures: int, attempts: int, look_back: LookBack
) -> bool:
    """Begin holding the domain's failures, the caller leasing the pass `look_back`
    starts; False when a hold is already active."""
    item = DomainWindowModel(
        key,
        HOLD_SLOT,
        attempts=attempts,
        failures=failures,
        held=True,
        expires_at=until,
        look_back_since=look_back.since,
        look_back_lease=look_back.lease,
    )
    no_active_hold = (
        DomainWindowModel.window_start.does_not_exist()
        | (DomainWindowModel.held == False)  # noqa: E712 (a DynamoDB condition, not a test)
        | (DomainWindowModel.expires_at <= now)
    )
    try:
        with dynamodb():
            item.save(condition=no_active_hold)
    except LostRace:
        return False
    return True


def lease_look_back(key: str, seen: LookBack, *, until: datetime) -> bool:
    """Take over the pass of an active hold, whose lease was `seen.lease` (over, the
    caller has checked), until `until`; False when another function took it first, or
    the hold has ended."""
    return _update_look_back(key, seen.lease, [DomainWindowModel.look_back_lease.set(until)])


def save_look_back(key: str, leased: datetime, look_back: LookBack) -> bool:
    """Record how far the pass has read and its next lease, as the function holding the
    lease `leased`; False when it no longer does (the hold ended, or another function
    took the pass over): it stops."""
    actions: list[Action] = [DomainWindowModel.look_back_lease.set(look_back.lease)]
    if look_back.cursor is None:
        actions.append(DomainWindowModel.look_back_cursor.remove())
    else:
        actions.append(DomainWindowModel.look_back_cursor.set(look_back.cursor))
    return _update_look_back(key, leased, actions)


def end_look_back(key: str, leased: datetime) -> bool:
    """The pass is done: every failure applied since its start that could be held is."""
    return _update_look_back(
        key,
        leased,
        [
            DomainWindowModel.look_back_since.remove(),
            DomainWindowModel.look_back_cursor.remove(),
            DomainWindowModel.look_back_lease.remove(),
        ],
    )


def check_pass(tx: TransactWrite, key: str, leased: datetime) -> None:
    """Make the transaction `tx` hold only while the hold's pass is still the one leased
    `leased` (the hold holding): an operator's application or another function's
    takeover in the meantime cancels it."""
    tx.condition_check(DomainWindowModel, key, HOLD_SLOT, condition=_pass_leased(leased))


def _pass_leased(leased: datetime) -> Condition:
    holding = DomainWindowModel.held == True  # noqa: E712 (a DynamoDB condition)
    return And(holding, DomainWindowModel.look_back_lease == leased)


def _update_look_back(key: str, leased: datetime, actions: list[Action]) -> bool:
    """Change the pass of an active hold, on the condition that its lease is still
    `leased`: the lease is the pass's version."""
    try:
        with dynamodb():
            DomainWindowModel(key, HOLD_SLOT).update(
                actions=actions, condition=_pass_leased(leased)
            )
    except LostRace:
        return False
    return True


def stop_holding(key: str) -> None:
    """Count the domain's failures again, from zero: an operator has judged the outage.
    The hold record stays (not holding) while held errors await a decision."""
    with contextlib.suppress(LostRace), dynamodb():  # no hold record: nothing to stop
        DomainWindowModel(key, HOLD_SLOT).update(
            actions=[DomainWindowModel.held.set(False)],
            condition=DomainWindowModel.window_start.exists(),
        )
    with dynamodb():
        buckets = list(
            DomainWindowModel.query(
                key, range_key_condition=DomainWindowModel.window_start < HOLD_SLOT
            )
        )
        with DomainWindowModel.batch_write() as batch:
            for bucket in buckets:
                batch.delete(bucket)


def hold_again(key: str) -> bool:
    """Hold the domain's failures again, so that a release goes on with a pass that a
    decision stopped before releases did so (`held` false, the pass's fields kept);
    False when there is no such pass."""
    try:
        with dynamodb():
            DomainWindowModel(key, HOLD_SLOT).update(
                actions=[DomainWindowModel.held.set(True)],
                condition=(DomainWindowModel.held == False)  # noqa: E712
                & DomainWindowModel.look_back_lease.exists(),
            )
    except LostRace:
        return False
    return True


def drop_look_back(key: str) -> None:
    """Leave the failures the hold's pass has not reached applied: an operator applied
    the outage. A function running the pass stops at its next record."""
    with contextlib.suppress(LostRace), dynamodb():  # no hold record: no pass
        DomainWindowModel(key, HOLD_SLOT).update(
            actions=[
                DomainWindowModel.look_back_since.remove(),
                DomainWindowModel.look_back_cursor.remove(),
                DomainWindowModel.look_back_lease.remove(),
            ],
            condition=DomainWindowModel.window_start.exists(),
        )


def forget_hold(key: str) -> None:
    """Remove the hold record once no held error is left, unless a new hold began or
    its pass stopped unfinished: then the record stays, not holding, to say since when
    failures the pass did not reach still count, until its TTL (the hold's end)."""
    with contextlib.suppress(LostRace), dynamodb():  # it stays
        DomainWindowModel(key, HOLD_SLOT).delete(
            condition=(DomainWindowModel.held == False)  # noqa: E712
            & DomainWindowModel.look_back_since.does_not_exist()
        )


def find_hold(key: str) -> Hold | None:
    with dynamodb():
        try:
            item = DomainWindowModel.get(key, HOLD_SLOT, consistent_read=True)
        except DomainWindowModel.DoesNotExist:
            return None
    return _to_hold(item)


def all_holds() -> list[Hold]:
    """Every hold record. A scan: the table holds only the last window's buckets of the
    domains that had feedback, and it runs when an operator asks."""
    with dynamodb():
        return [
            _to_hold(item)
            for item in DomainWindowModel.scan(
                filter_condition=DomainWindowModel.window_start == HOLD_SLOT
            )
        ]


def _to_hold(item: DomainWindowModel) -> Hold:
    until = item.expires_at
    look_back = None
    if item.look_back_since is not None and item.look_back_lease is not None:
        # written and removed together (start_hold, end_look_back)
        look_back = LookBack(
            since=item.look_back_since, cursor=item.look_back_cursor, lease=item.look_back_lease
        )
    return Hold(
        key=item.domain_key,
        held=bool(item.held),
        until=until if until.tzinfo else until.replace(tzinfo=UTC),
        failures=int(item.failures),
        attempts=int(item.attempts),
        look_back=look_back,
    )
