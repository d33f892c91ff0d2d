"""Decisions people make about addresses: an operator's (or an import's) status, the
release of delivery errors, and the fate of errors the outage guard held. Each is a
rule applied to the stored state and written with its event (`history_store.record`),
on fresh state until it wins a race.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from consentry.addresses import address_store, history_store
from consentry.addresses.counting import (
    QuarantinePolicy,
    error_snapshot,
    occurrence_of,
    record,
    release_errors,
)
from consentry.addresses.events import DECIDED_AT, AddressEvent, Decision, EventKind, change_id
from consentry.addresses.reasons import ErrorType, FailureReason
from consentry.addresses.status import (
    OPERATOR_ORIGIN,
    AddressState,
    AddressStatus,
    same_decision,
    set_by_operator,
)
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConflictError
from consentry.core.persistence import LostRace, optimistically
from consentry.core.types import Address, Channel


def current_state(channel: Channel, address: Address) -> AddressState:
    """The stored state, or the state of an address nothing was recorded for."""
    return address_store.find_address(channel, address) or AddressState(
        channel=channel, address=address
    )


def put_status(
    channel: Channel,
    address: Address,
    status: AddressStatus,
    reason: str | None,
    *,
    actor: str = OPERATOR_ORIGIN,
    origin: str = OPERATOR_ORIGIN,
    clock: Clock = utc_now,
) -> AddressState | None:
    """An operator's (or an import's) explicit decision on an address, with its event.

    `origin` (operator or import) names who denylisted it, and is the event's kind.
    None when the address already is as decided: nothing is written, so a repeated
    decision (a re-run import) adds no event.
    """

    at = clock()

    def attempt() -> AddressState | None:
        current = current_state(channel, address)
        updated = set_by_operator(current, status, reason or "", at, origin=origin)
        if same_decision(updated, current):
            return None
        event = AddressEvent(
            channel=channel,
            address=address,
            event_id=change_id(at, origin, current),
            at=at,
            kind=EventKind(origin),
            reason=reason,
            actor=actor,
        )
        if not history_store.record(current, updated, event):
            raise LostRace("the decision's event exists: read the address again")
        return replace(updated, version=current.version + 1)

    return optimistically(attempt, "the address")


def release(listed: AddressState, reason: str, actor: str, at: datetime) -> bool:
    """Release an address's delivery errors (denylist and allowlist stay), starting from
    its state as listed; False when it kept changing, or went, while being released."""
    unread = [listed]

    def attempt() -> bool:
        current = unread.pop() if unread else address_store.find_address(*_key(listed))
        if current is None:
            return False
        released = release_errors(current, at)
        if released != current:
            event = AddressEvent(
                channel=current.channel,
                address=current.address,
                event_id=change_id(at, EventKind.RELEASE, current),
                at=at,
                kind=EventKind.RELEASE,
                reason=reason,
                actor=actor,
                detail={"changed": True, "before": error_snapshot(current), "bulk": True},
            )
            history_store.record(current, released, event)
        return True

    try:
        return optimistically(attempt, "the address")
    except ConflictError:
        return False


def _key(state: AddressState) -> tuple[Channel, Address]:
    return state.channel, state.address


def decide_held(
    event: AddressEvent,
    decision: Decision,
    *,
    reason: str,
    actor: str,
    at: datetime,
    policy: QuarantinePolicy,
) -> bool | None:
    """An operator's decision on an error the outage guard held: released (it never
    counts) or applied under the counting rules at its own time. Whether it changed the
    address; None when the event was decided already."""

    def attempt() -> bool | None:
        current = current_state(event.channel, event.address)
        updated = current
        if decision is Decision.APPLIED and event.error_type and event.reason:
            occurrence = occurrence_of(
                ErrorType(event.error_type), FailureReason(event.reason), event.at, event.key
            )
            if occurrence is not None:
                updated = record(current, occurrence, policy)
        detail: dict[str, Any] = {
            "decision": decision.value,
            "decided_by": actor,
            DECIDED_AT: at,
            "decision_reason": reason,
            "changed": not same_decision(updated, current),
        }
        if detail["changed"]:
            detail["before"] = error_snapshot(current)
        if not history_store.decide_held(event, current, updated, detail):
            return None
        return bool(detail["changed"])

    return optimistically(attempt, "the address")
