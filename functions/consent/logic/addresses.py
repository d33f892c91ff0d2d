"""Addresses and outages: the operations behind /v1/addresses and /v1/outages.

An address is read by its channel and raw address (normalized here, as everywhere);
an address nothing was ever recorded for is 404. Reads show the address as it is at
the moment of reading: a quarantine or a counter whose time is up is shown released,
whether the daily job has tidied it yet or not. Lists go through the sparse by-status
index, so a list names a status (and leaves out what has been released since).
Releasing errors in bulk resets delivery health only: denylist origins (complaints,
STOP, owner opt-outs) and the allowlist stay, and each release is an event naming the
operator and the reason.

Outage decisions take the errors the guard held for a domain, oldest first, and either
release them (they never count) or apply them under the counting rules at their own
time. The first decision ends the hold; the record goes once no held error is left.
A call decides at most `limit` errors; `remaining` says whether to call again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from consent.commands import Command, idempotent
from consent.schemas.addresses import (
    AddressesOut,
    AddressEventOut,
    AddressHistoryOut,
    AddressOut,
    AddressStatusIn,
    AddressWithHistoryOut,
    BulkReleaseIn,
    BulkReleaseOut,
    OutageDecisionIn,
    OutageDecisionOut,
    OutageOut,
    OutagesOut,
    ReleaseScope,
)
from consentry.addresses import address_store, decisions, domain_windows, history_store
from consentry.addresses.counting import QuarantinePolicy, settle
from consentry.addresses.domain_windows import Hold
from consentry.addresses.events import Decision, held_key, split_held_key
from consentry.addresses.look_back import LookBackPass, report_failure
from consentry.addresses.normalize import normalize
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.clock import Clock
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.types import Address, Channel

HISTORY_ON_READ = 50
RELEASE_PAGES = 2
"""Pages of a hold's unfinished pass a release goes on with per call: a page is a query
and up to `look_back.PAGE` addresses, a read and at most a transaction each, a few
seconds of the API's 29."""


class SetAddressStatus(Command):
    channel: Channel
    address: Address
    body: AddressStatusIn


class ReleaseAddresses(Command):
    body: BulkReleaseIn


class DecideOutage(Command):
    channel: Channel
    domain: str
    decision: Decision
    body: OutageDecisionIn


def address_of(
    channel: Channel, raw: str, default_region: str, *, smtputf8: bool = False
) -> Address:
    address = normalize(channel, unquote(raw), default_region, smtputf8=smtputf8)
    if address is None:
        raise InvalidInputError("address", f"not a valid {channel.value} address")
    return address


def get(
    channel: Channel, address: Address, *, now: datetime, policy: QuarantinePolicy
) -> AddressWithHistoryOut:
    """The address as it is at `now`, with its latest history."""
    return _view(channel, address, lambda state: settle(state, now, policy))


def _view(
    channel: Channel, address: Address, as_read: Callable[[AddressState], AddressState]
) -> AddressWithHistoryOut:
    # History first: every write puts the item and its event in one transaction, so the
    # item read after (consistently) is at least as new as any event read, and a write
    # landing between the two reads cannot show a `valid` address over its own bounce.
    page = history_store.history_of(channel, address, limit=HISTORY_ON_READ, cursor=None)
    state = address_store.find_address(channel, address)
    if state is None and not page.items:
        raise NotFoundError("address", f"{channel.value}:{address}")
    current = as_read(state) if state else AddressState(channel=channel, address=address)
    return AddressWithHistoryOut(
        **AddressOut.of(current).model_dump(),
        history=[AddressEventOut.of(event) for event in page.items],
        history_cursor=page.cursor,
    )


def history(
    channel: Channel, address: Address, limit: int, cursor: str | None
) -> AddressHistoryOut:
    page = history_store.history_of(channel, address, limit=limit, cursor=cursor)
    if not page.items and cursor is None and address_store.find_address(channel, address) is None:
        raise NotFoundError("address", f"{channel.value}:{address}")
    return AddressHistoryOut(
        items=[AddressEventOut.of(event) for event in page.items], next_cursor=page.cursor
    )


def list_addresses(
    channel: Channel,
    status: AddressStatus,
    *,
    reason: str | None,
    domain: str | None,
    limit: int,
    cursor: str | None,
    now: datetime,
    policy: QuarantinePolicy,
) -> AddressesOut:
    if status is AddressStatus.VALID:
        raise InvalidInputError("status", "valid addresses are not listed; read one by address")
    page = address_store.addresses_with_status(
        channel, status, domain=domain, reason=reason, limit=limit, cursor=cursor
    )
    current = [settle(state, now, policy) for state in page.items]
    return AddressesOut(
        items=[AddressOut.of(state) for state in current if state.status is status],
        next_cursor=page.cursor,
    )


@idempotent
def set_status(*, command: SetAddressStatus, clock: Clock) -> AddressWithHistoryOut:
    decisions.put_status(
        command.channel,
        command.address,
        AddressStatus(command.body.status),
        command.body.reason,
        actor=command.actor,
        clock=clock,
    )
    return _view(command.channel, command.address, lambda state: state)


def _release_filters(scope: ReleaseScope) -> tuple[AddressStatus, dict[str, Any]]:
    if scope.since and scope.until and scope.since > scope.until:
        raise InvalidInputError("until", "must not be before `since`")
    if not scope.filtered and not scope.all:
        raise InvalidInputError(
            "all",
            "name a failureReason, domain, since or until, or pass all: true to release "
            "every address with the status",
        )
    filters: dict[str, Any] = {
        "domain": scope.domain,
        "reason": scope.failure_reason,
        "error_since": scope.since,
        "error_until": scope.until,
    }
    return AddressStatus(scope.status), filters


def releasable(scope: ReleaseScope) -> int:
    """How many addresses a release of `scope` covers now, over all pages (a dry run's
    count)."""
    status, filters = _release_filters(scope)
    return address_store.count_with_status(scope.channel, status, **filters)


@idempotent
def release(*, command: ReleaseAddresses, clock: Clock) -> BulkReleaseOut:
    body = command.body
    status, filters = _release_filters(body)
    if body.dry_run:
        matched = releasable(body)
        return BulkReleaseOut(
            matched=matched, released=0, skipped=0, dry_run=True, next_cursor=None
        )
    page = address_store.addresses_with_status(
        body.channel, status, **filters, limit=body.limit, cursor=body.cursor
    )
    now = clock()
    released = sum(
        decisions.release(state, body.reason, command.actor, now) for state in page.items
    )
    return BulkReleaseOut(
        matched=len(page.items),
        released=released,
        skipped=len(page.items) - released,
        dry_run=False,
        next_cursor=page.cursor,
    )


def outages(clock: Clock) -> OutagesOut:
    now = clock()
    return OutagesOut(items=[_outage_of(hold, now) for hold in domain_windows.all_holds()])


def outage(channel: Channel, domain: str, clock: Clock) -> OutageOut:
    key = held_key(channel, domain.lower())
    hold = domain_windows.find_hold(key)
    if hold is not None:
        return _outage_of(hold, clock())
    held = history_store.count_held(key)
    if not held:
        raise NotFoundError("outage", key)
    return OutageOut(
        channel=channel,
        domain=domain.lower(),
        holding=False,
        held_until=None,
        held_errors=held,
        failures=None,
        attempts=None,
        look_back_since=None,
    )


@idempotent
def decide(*, command: DecideOutage, policy: QuarantinePolicy, clock: Clock) -> OutageDecisionOut:
    domain = command.domain.lower()
    key = held_key(command.channel, domain)
    hold = domain_windows.find_hold(key)
    if hold is None and not history_store.count_held(key):
        raise NotFoundError("outage", key)
    searching = _settle_look_back(hold, command.decision, policy, clock)
    if searching is None:
        domain_windows.stop_holding(key)
    now = clock()
    decided = changed = 0
    for event in history_store.held_events(key, limit=command.body.limit).items:
        outcome = decisions.decide_held(
            event,
            command.decision,
            reason=command.body.reason,
            actor=command.actor,
            at=now,
            policy=policy,
        )
        decided += outcome is not None
        changed += bool(outcome)
    remaining = history_store.count_held(key)
    if not remaining and searching is None:
        domain_windows.forget_hold(key)
    return OutageDecisionOut(
        channel=command.channel,
        domain=domain,
        decision=command.decision,
        decided=decided,
        changed=changed,
        remaining=remaining,
        look_back_since=searching,
    )


def _settle_look_back(
    hold: Hold | None, decision: Decision, policy: QuarantinePolicy, clock: Clock
) -> datetime | None:
    """What a decision does with the hold's unfinished pass over the failures applied
    before it: a release goes on with it, for those failures are the outage's too (held
    by the pass, they are released with the rest), and the hold holds until a release
    finds the pass ended; an application ends it, for what it has not reached is
    applied already. The pass's start while the release is to go on (None once there
    is nothing to go on with): also after the call whose pass ended holding errors,
    which the held index may not show this call yet, so that the next one decides them
    before the hold goes."""
    if hold is None or hold.look_back is None:
        return None
    if decision is Decision.APPLIED:
        domain_windows.drop_look_back(hold.key)  # first: a retry finds the hold to stop
        return None
    if not hold.held and not domain_windows.hold_again(hold.key):
        return None  # stopped by a decision made before releases went on with the pass
    try:
        held = LookBackPass(policy, clock, RELEASE_PAGES).take_over(hold, clock())
    except Exception:
        # The release decides what is held meanwhile; the next call goes on with the pass.
        report_failure(hold.key)
        return hold.look_back.since
    after = domain_windows.find_hold(hold.key)
    if (after is not None and after.look_back is not None) or held:
        return hold.look_back.since
    return None


def _outage_of(hold: Hold, now: datetime) -> OutageOut:
    channel, domain = split_held_key(hold.key)
    return OutageOut(
        channel=channel,
        domain=domain,
        holding=hold.active(now),
        held_until=hold.until,
        held_errors=history_store.count_held(hold.key),
        failures=hold.failures,
        attempts=hold.attempts,
        look_back_since=hold.look_back.since if hold.look_back else None,
    )
