"""Addresses and outages: the operations behind /v1/addresses and /v1/outages, with their
JSON shapes.

An address is read by its channel and raw address (normalized here, as everywhere);
an address nothing was ever recorded for is 404. Lists go through the sparse
by-status index, so a list names a status. Releasing errors in bulk resets delivery
health only: denylist origins (complaints, STOP, owner opt-outs) and the allowlist
stay, and each release is an event naming the operator and the reason.

Outage decisions take the errors the guard held for a domain, oldest first, and either
release them (they never count) or apply them under the counting rules at their own
time. The first decision ends the hold; the record goes once no held error is left.
A call decides at most `limit` errors; `remaining` says whether to call again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import AwareDatetime, Field, StringConstraints

from consent.api import ApiModel
from consent.schemas import Reason
from consentry.addresses import address_store, decisions, domain_windows, history_store
from consentry.addresses.counting import (
    QuarantinePolicy,
    apply_failure,
    error_snapshot,
)
from consentry.addresses.domain_windows import Hold
from consentry.addresses.events import (
    AddressEvent,
    Decision,
    held_key,
    split_held_key,
)
from consentry.addresses.feedback import ErrorType, FailureReason
from consentry.addresses.normalize import normalize
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.persistence import optimistically
from consentry.core.settings import get_settings
from consentry.core.types import Address, Channel

HISTORY_ON_READ = 50

Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=253, pattern=r"^[^\s#@]+$"
    ),
]
FailureReasonFilter = Annotated[str, StringConstraints(min_length=1, max_length=500)]


# ---------------------------------------------------------------- shapes
class AddressEventOut(ApiModel):
    event_id: str
    at: datetime
    kind: str
    error_type: str | None
    reason: str | None
    message_id: str | None
    actor: str | None
    status: str | None
    """The address's status after the event."""
    held: bool
    """Held by the outage guard, awaiting an operator's decision."""
    detail: dict[str, Any]

    @classmethod
    def of(cls, event: AddressEvent) -> AddressEventOut:
        return cls(
            event_id=event.event_id,
            at=event.at,
            kind=event.kind,
            error_type=event.error_type,
            reason=event.reason,
            message_id=event.message_id,
            actor=event.actor,
            status=event.detail.get("status"),
            held=event.held,
            detail={k: v for k, v in event.detail.items() if k not in ("status", "version")},
        )


class AddressStateOut(ApiModel):
    channel: Channel
    address: str
    status: AddressStatus
    """Derived: allowlisted, else denylisted, else the delivery health (`errorStatus`)."""
    error_status: AddressStatus
    reason: str | None
    error_count: int
    last_error_at: datetime | None
    release_at: datetime | None
    """When a mailbox-full quarantine ends by itself."""
    denylist_origins: list[str]
    allowlisted: bool
    version: int
    updated_at: datetime | None

    @classmethod
    def of(cls, state: AddressState) -> AddressStateOut:
        return cls(
            channel=state.channel,
            address=state.address,
            status=state.status,
            error_status=state.error_status,
            reason=state.reason,
            error_count=state.error_count,
            last_error_at=state.last_counted_error_at,
            release_at=state.release_at,
            denylist_origins=sorted(state.denylist_origins),
            allowlisted=state.allowlisted,
            version=state.version,
            updated_at=state.updated_at,
        )


class AddressOut(AddressStateOut):
    history: list[AddressEventOut]
    """The newest events, newest first; `historyCursor` reads on (…/history)."""
    history_cursor: str | None


class AddressesOut(ApiModel):
    items: list[AddressStateOut]
    next_cursor: str | None


class AddressHistoryOut(ApiModel):
    items: list[AddressEventOut]
    next_cursor: str | None


class AddressStatusIn(ApiModel):
    status: Literal["allowlisted", "denylisted", "quarantine", "valid"]
    """`valid` releases the address: errors, denylist origins and allowlist alike."""
    reason: Reason


class BulkReleaseIn(ApiModel):
    """Which addresses' delivery errors to release; denylists and allowlists stay."""

    channel: Channel = Channel.EMAIL
    status: Literal["quarantine", "erroneous"] = "quarantine"
    failure_reason: FailureReasonFilter | None = None
    """Only addresses whose reason is this (`user_unknown`, `mailbox_full`, ...)."""
    domain: Domain | None = None
    since: AwareDatetime | None = None
    """Only addresses whose last counted error is at or after this."""
    until: AwareDatetime | None = None
    """... and at or before this."""
    reason: Reason
    """Why (kept in each address's history)."""
    dry_run: bool = False
    """Count the matching addresses (all pages) and change nothing."""
    limit: int = Field(default=500, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=2048)


class BulkReleaseOut(ApiModel):
    matched: int
    released: int
    skipped: int
    """Changed by something else while being released; run again to retry them."""
    dry_run: bool
    next_cursor: str | None


class OutageOut(ApiModel):
    channel: Channel
    domain: str
    holding: bool
    """New failures of the domain are being held."""
    held_until: datetime | None
    """When the hold ends by itself if nobody decides."""
    held_errors: int
    failures: int | None
    attempts: int | None
    """The window's counts when the hold began."""


class OutagesOut(ApiModel):
    items: list[OutageOut]


class OutageDecisionIn(ApiModel):
    reason: Reason
    limit: int = Field(default=200, ge=1, le=1000)


class OutageDecisionOut(ApiModel):
    channel: Channel
    domain: str
    decision: Decision
    decided: int
    changed: int
    """Addresses whose state the applied errors changed."""
    remaining: int
    """Held errors still waiting (call again)."""


# ---------------------------------------------------------------- operations
def address_of(channel: Channel, raw: str) -> Address:
    address = normalize(channel, unquote(raw), get_settings().default_phone_region)
    if address is None:
        raise InvalidInputError("address", f"not a valid {channel.value} address")
    return address


def get(channel: Channel, raw: str) -> AddressOut:
    address = address_of(channel, raw)
    state = address_store.find_address(channel, address)
    page = history_store.history_of(channel, address, limit=HISTORY_ON_READ, cursor=None)
    if state is None and not page.items:
        raise NotFoundError("address", f"{channel.value}:{address}")
    current = state or AddressState(channel=channel, address=address)
    return AddressOut(
        **AddressStateOut.of(current).model_dump(),
        history=[AddressEventOut.of(event) for event in page.items],
        history_cursor=page.cursor,
    )


def history(channel: Channel, raw: str, limit: int, cursor: str | None) -> AddressHistoryOut:
    address = address_of(channel, raw)
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
) -> AddressesOut:
    if status is AddressStatus.VALID:
        raise InvalidInputError("status", "valid addresses are not listed; read one by address")
    page = address_store.addresses_with_status(
        channel, status, domain=domain, reason=reason, limit=limit, cursor=cursor
    )
    return AddressesOut(
        items=[AddressStateOut.of(state) for state in page.items], next_cursor=page.cursor
    )


def set_status(channel: Channel, raw: str, body: AddressStatusIn, actor: str) -> dict[str, Any]:
    address = address_of(channel, raw)
    decisions.put_status(channel, address, AddressStatus(body.status), body.reason, actor=actor)
    return {"status": 200, "body": get(channel, address).model_dump(mode="json", by_alias=True)}


def release(body: BulkReleaseIn, actor: str, *, clock: Clock = utc_now) -> dict[str, Any]:
    if body.since and body.until and body.since > body.until:
        raise InvalidInputError("until", "must not be before `since`")
    status = AddressStatus(body.status)
    filters: dict[str, Any] = {
        "domain": body.domain,
        "reason": body.failure_reason,
        "error_since": body.since,
        "error_until": body.until,
    }
    if body.dry_run:
        matched = address_store.count_with_status(body.channel, status, **filters)
        out = BulkReleaseOut(matched=matched, released=0, skipped=0, dry_run=True, next_cursor=None)
        return {"status": 200, "body": out.model_dump(mode="json", by_alias=True)}
    page = address_store.addresses_with_status(
        body.channel, status, **filters, limit=body.limit, cursor=body.cursor
    )
    now = clock()
    released = skipped = 0
    for state in page.items:
        if decisions.release(state, body.reason, actor, now):
            released += 1
        else:
            skipped += 1
    out = BulkReleaseOut(
        matched=len(page.items),
        released=released,
        skipped=skipped,
        dry_run=False,
        next_cursor=page.cursor,
    )
    return {"status": 200, "body": out.model_dump(mode="json", by_alias=True)}


def outages(*, clock: Clock = utc_now) -> OutagesOut:
    now = clock()
    return OutagesOut(items=[_outage_of(hold, now) for hold in domain_windows.all_holds()])


def outage(channel: Channel, domain: str, *, clock: Clock = utc_now) -> OutageOut:
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
    )


def decide(
    channel: Channel,
    domain: str,
    decision: Decision,
    body: OutageDecisionIn,
    actor: str,
    *,
    clock: Clock = utc_now,
) -> dict[str, Any]:
    key = held_key(channel, domain.lower())
    if domain_windows.find_hold(key) is None and not history_store.count_held(key):
        raise NotFoundError("outage", key)
    domain_windows.stop_holding(key)
    policy = QuarantinePolicy.from_settings(get_settings())
    now = clock()
    decided = changed = 0
    for event in history_store.held_events(key, limit=body.limit).items:
        outcome = _decide_one(
            event, decision, reason=body.reason, actor=actor, now=now, policy=policy
        )
        decided += outcome is not None
        changed += bool(outcome)
    remaining = history_store.count_held(key)
    if not remaining:
        domain_windows.forget_hold(key)
    out = OutageDecisionOut(
        channel=channel,
        domain=domain.lower(),
        decision=decision,
        decided=decided,
        changed=changed,
        remaining=remaining,
    )
    return {"status": 200, "body": out.model_dump(mode="json", by_alias=True)}


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
    )


def _decide_one(
    event: AddressEvent,
    decision: Decision,
    *,
    reason: str,
    actor: str,
    now: datetime,
    policy: QuarantinePolicy,
) -> bool | None:
    """Whether the decision changed the address; None when the event was decided already."""

    def attempt() -> bool | None:
        current = decisions.current_state(event.channel, event.address)
        updated = current
        if decision is Decision.APPLIED and event.error_type and event.reason:
            updated = apply_failure(
                current, ErrorType(event.error_type), FailureReason(event.reason), event.at, policy
            )
        detail: dict[str, Any] = {
            "decision": decision.value,
            "decided_by": actor,
            "decided_at": now,
            "decision_reason": reason,
            "changed": updated != current,
        }
        if updated != current:
            detail["before"] = error_snapshot(current)
        if not history_store.decide_held(event, current, updated, detail):
            return None
        return updated != current

    return optimistically(attempt, "the address")
