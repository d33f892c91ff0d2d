"""Address statuses (the quarantine table) as plain values and rules.

An address carries two independent facts: its delivery health (`error_status`: valid,
erroneous or quarantine, with counters) and the denylist origins that stop it (who
asked: the owner of a profile, a complaint, an SMS keyword, an operator, an import).
Its status is derived: allowlisted beats everything, then denylisted, then the
delivery health. Keeping origins apart lets the owner's later opt-in lift exactly
what the owner's own opt-out put there, and never a complaint.

The delivery health is computed, never counted up: the address keeps the dated
delivery outcomes (`occurrences`: hard and soft errors, successes) of its reorder
window, each once by its feedback key, over a `base` health that holds what fell out
of the window; the health is the counting rules replayed over them in time order
(consentry.addresses.counting). So it depends on which feedback arrived, not on the
order it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from consentry.core.types import Address, Channel, ProfileId


class AddressStatus(StrEnum):
    VALID = "valid"
    ERRONEOUS = "erroneous"
    QUARANTINE = "quarantine"
    DENYLISTED = "denylisted"
    ALLOWLISTED = "allowlisted"


COMPLAINT_ORIGIN = "complaint"
SMS_KEYWORD_ORIGIN = "sms_keyword"
OPERATOR_ORIGIN = "operator"
IMPORT_ORIGIN = "import"


def owner_origin(profile_id: ProfileId) -> str:
    """The origin of a denylist entry that a profile's own opt-out created."""
    return f"owner:{profile_id}"


class Outcome(StrEnum):
    """A delivery outcome the counting rules replay (ignored errors are none)."""

    HARD = "hard"
    SOFT = "soft"
    SUCCESS = "success"


@dataclass(frozen=True, kw_only=True)
class Occurrence:
    """One dated delivery outcome of an address, named by its feedback key."""

    at: datetime
    key: str
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ErrorHealth:
    """The delivery-health fields of an address, without its occurrences."""

    error_status: AddressStatus = AddressStatus.VALID
    reason: str | None = None
    error_count: int = 0
    last_counted_error_at: datetime | None = None
    release_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AddressState:
    """What the quarantine table holds of one address. Plain values, built by our own
    code (the table's items, the rules), so nothing here validates them."""

    channel: Channel
    address: Address
    error_status: AddressStatus = AddressStatus.VALID
    reason: str | None = None
    error_count: int = 0
    last_counted_error_at: datetime | None = None
    release_at: datetime | None = None
    denylist_origins: frozenset[str] = frozenset()
    allowlisted: bool = False
    version: int = 0
    updated_at: datetime | None = None
    occurrences: tuple[Occurrence, ...] = ()
    """The reorder window's delivery outcomes, in time order (then by key)."""
    base: ErrorHealth | None = None
    """The health the occurrences are replayed over; None: the health fields as they
    are (an address written before occurrences were kept, or never counted)."""
    decided_at: datetime | None = None
    """When an operator last decided the delivery health: feedback dated before it
    was part of what they decided on, and no longer counts."""

    @property
    def health(self) -> ErrorHealth:
        return ErrorHealth(
            error_status=self.error_status,
            reason=self.reason,
            error_count=self.error_count,
            last_counted_error_at=self.last_counted_error_at,
            release_at=self.release_at,
        )

    @property
    def status(self) -> AddressStatus:
        if self.allowlisted:
            return AddressStatus.ALLOWLISTED
        if self.denylist_origins:
            return AddressStatus.DENYLISTED
        return self.error_status


def with_origin(state: AddressState, origin: str, at: datetime) -> AddressState:
    if origin in state.denylist_origins:
        return state
    return replace(state, denylist_origins=state.denylist_origins | {origin}, updated_at=at)


def without_origins(state: AddressState, origins: frozenset[str], at: datetime) -> AddressState:
    remaining = state.denylist_origins - origins
    if remaining == state.denylist_origins:
        return state
    return replace(state, denylist_origins=remaining, updated_at=at)


def set_by_operator(
    state: AddressState,
    status: AddressStatus,
    reason: str,
    at: datetime,
    *,
    origin: str = OPERATOR_ORIGIN,
) -> AddressState:
    """An operator's (or an import's) explicit decision. `valid` releases everything,
    origins included; `denylisted` adds `origin`. A decision on the delivery health is
    a new base: the feedback it decided on (dated before it) no longer counts."""
    if status is AddressStatus.VALID:
        return replace(
            decided(state, ErrorHealth(), at), denylist_origins=frozenset(), allowlisted=False
        )
    if status is AddressStatus.ALLOWLISTED:
        return replace(state, allowlisted=True, updated_at=at)
    if status is AddressStatus.DENYLISTED:
        return replace(with_origin(state, origin, at), allowlisted=False)
    health = replace(state.health, error_status=status, reason=reason)
    return replace(decided(state, health, at), allowlisted=False)


def decided(state: AddressState, health: ErrorHealth, at: datetime) -> AddressState:
    """`state` with a delivery health someone decided at `at`: it is the new base, and
    the occurrences it decided on are dropped (feedback dated before `at` that arrives
    later is part of the decision too)."""
    return replace(
        with_health(state, health), base=health, occurrences=(), decided_at=at, updated_at=at
    )


def with_health(state: AddressState, health: ErrorHealth) -> AddressState:
    """`state` with the delivery-health fields of `health`."""
    return replace(
        state,
        error_status=health.error_status,
        reason=health.reason,
        error_count=health.error_count,
        last_counted_error_at=health.last_counted_error_at,
        release_at=health.release_at,
    )


def health_document(health: ErrorHealth) -> dict[str, Any]:
    """The delivery-health fields as JSON values (times as ISO 8601 text): what an
    event keeps to undo a change, and what the address store keeps as the base."""
    return {
        "error_status": health.error_status.value,
        "reason": health.reason,
        "error_count": health.error_count,
        "last_counted_error_at": _iso(health.last_counted_error_at),
        "release_at": _iso(health.release_at),
    }


def health_of(document: dict[str, Any]) -> ErrorHealth:
    """The health `health_document` wrote; a field it left out has a valid address's value."""
    return ErrorHealth(
        error_status=AddressStatus(document.get("error_status", AddressStatus.VALID.value)),
        reason=document.get("reason"),
        error_count=int(document.get("error_count", 0)),
        last_counted_error_at=_time(document.get("last_counted_error_at")),
        release_at=_time(document.get("release_at")),
    )


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def same_decision(left: AddressState, right: AddressState) -> bool:
    """Whether two states say the same about the address, bookkeeping aside (when
    each was decided and written, and the occurrences behind the health)."""
    bookkeeping = {"updated_at", "occurrences", "base", "decided_at"}
    return all(
        getattr(left, field.name) == getattr(right, field.name)
        for field in fields(AddressState)
        if field.name not in bookkeeping
    )


def address_key(channel: Channel, address: Address) -> str:
    return f"{channel.value}#{address}"


def address_domain(channel: Channel, address: Address) -> str:
    """The part of an address that outages and operator lists group by."""
    if channel is Channel.EMAIL:
        return address.rpartition("@")[2]
    return address[:3]
