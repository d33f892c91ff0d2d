"""Address statuses (the quarantine table) as plain values and rules.

An address carries two independent facts: its delivery health (`error_status`: valid,
erroneous or quarantine, with counters) and the denylist origins that stop it (who
asked: the owner of a profile, a complaint, an SMS keyword, an operator, an import).
Its status is derived: allowlisted beats everything, then denylisted, then the
delivery health. Keeping origins apart lets the owner's later opt-in lift exactly
what the owner's own opt-out put there, and never a complaint.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

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


class AddressState(BaseModel):
    model_config = ConfigDict(frozen=True)

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
    return state.model_copy(
        update={"denylist_origins": state.denylist_origins | {origin}, "updated_at": at}
    )


def without_origins(state: AddressState, origins: frozenset[str], at: datetime) -> AddressState:
    remaining = state.denylist_origins - origins
    if remaining == state.denylist_origins:
        return state
    return state.model_copy(update={"denylist_origins": remaining, "updated_at": at})


def set_by_operator(
    state: AddressState,
    status: AddressStatus,
    reason: str,
    at: datetime,
    *,
    origin: str = OPERATOR_ORIGIN,
) -> AddressState:
    """An operator's (or an import's) explicit decision. `valid` releases everything,
    origins included; `denylisted` adds `origin`."""
    if status is AddressStatus.VALID:
        return state.model_copy(
            update={
                "error_status": AddressStatus.VALID,
                "reason": None,
                "error_count": 0,
                "last_counted_error_at": None,
                "release_at": None,
                "denylist_origins": frozenset(),
                "allowlisted": False,
                "updated_at": at,
            }
        )
    if status is AddressStatus.ALLOWLISTED:
        return state.model_copy(update={"allowlisted": True, "updated_at": at})
    if status is AddressStatus.DENYLISTED:
        return with_origin(state, origin, at).model_copy(update={"allowlisted": False})
    return state.model_copy(
        update={"error_status": status, "reason": reason, "allowlisted": False, "updated_at": at}
    )


def address_key(channel: Channel, address: Address) -> str:
    return f"{channel.value}#{address}"


def address_domain(channel: Channel, address: Address) -> str:
    """The part of an address that outages and operator lists group by."""
    if channel is Channel.EMAIL:
        return address.rpartition("@")[2]
    return address[:3]
