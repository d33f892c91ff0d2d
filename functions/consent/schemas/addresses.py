"""The shapes of /v1/addresses and /v1/outages: the quarantine, its history, outages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from consent.commands import ApiModel
from consent.schemas.fields import Domain, FailureReasonFilter, Reason
from consentry.addresses.events import AddressEvent, Decision
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.types import Channel
from consentry.core.wire import Count, Flag, Moment


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


class AddressOut(ApiModel):
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
    def of(cls, state: AddressState) -> AddressOut:
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


class AddressWithHistoryOut(AddressOut):
    history: list[AddressEventOut]
    """The newest events, newest first; `historyCursor` reads on (…/history)."""
    history_cursor: str | None


class AddressesOut(ApiModel):
    items: list[AddressOut]
    next_cursor: str | None


class AddressHistoryOut(ApiModel):
    items: list[AddressEventOut]
    next_cursor: str | None


class AddressStatusIn(ApiModel):
    status: Literal["allowlisted", "denylisted", "quarantine", "valid"]
    """`valid` releases the address: errors, denylist origins and allowlist alike."""
    reason: Reason


class ReleaseScope(ApiModel):
    """Which addresses a bulk release covers (the console confirms with its count)."""

    channel: Channel = Channel.EMAIL
    status: Literal["quarantine", "erroneous"] = "quarantine"
    failure_reason: FailureReasonFilter | None = None
    """Only addresses whose reason is this (`user_unknown`, `mailbox_full`, ...)."""
    domain: Domain | None = None
    since: Moment | None = None
    """Only addresses whose last counted error is at or after this."""
    until: Moment | None = None
    """... and at or before this."""
    all: Flag = False
    """Release every address with the status: asked for explicitly, never by leaving
    out the filters."""

    @property
    def filtered(self) -> bool:
        return any(
            value is not None
            for value in (self.failure_reason, self.domain, self.since, self.until)
        )


class BulkReleaseIn(ReleaseScope):
    """Which addresses' delivery errors to release; denylists and allowlists stay."""

    reason: Reason
    """Why (kept in each address's history)."""
    dry_run: Flag = False
    """Count the matching addresses (all pages) and change nothing."""
    limit: Count = Field(default=500, ge=1, le=1000)
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
    look_back_since: datetime | None
    """Set while the hold is still finding the failures it had applied since then, before
    it began, to hold them too (a few pages per failure of the domain, and per call of a
    release, which goes on with it); null once it has found them all, or once an
    application ended it. Set on a hold no longer holding that was decided before
    releases went on with the search: failures applied since then that it had not
    reached still count until a release of the outage goes on with it, and the outage
    stays listed until heldUntil, even with no held error left."""


class OutagesOut(ApiModel):
    items: list[OutageOut]


class OutageDecisionIn(ApiModel):
    reason: Reason
    limit: Count = Field(default=200, ge=1, le=1000)


class OutageDecisionOut(ApiModel):
    channel: Channel
    domain: str
    decision: Decision
    decided: int
    changed: int
    """Addresses whose state the applied errors changed."""
    remaining: int
    """Held errors still waiting (call again)."""
    look_back_since: datetime | None
    """Set after a release while the hold's search for the failures applied before it,
    since then, is unfinished: the release goes on with it a few pages per call, holding
    what it finds and releasing it, and the hold holds until a release finds it ended
    (call again; also once after the call that ended it holding errors, which the next
    call decides). Null then, and after an application, which leaves those failures
    applied."""
