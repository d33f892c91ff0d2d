"""Address statuses (the quarantine table) and the key each channel's address is stored under."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from consentry.types import Address, Channel


class AddressStatus(StrEnum):
    VALID = "valid"
    ERRONEOUS = "erroneous"
    QUARANTINE = "quarantine"
    DENYLISTED = "denylisted"
    ALLOWLISTED = "allowlisted"


class AddressState(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: Channel
    address: Address
    status: AddressStatus = AddressStatus.VALID
    reason: str | None = None
    error_count: int = 0
    updated_at: datetime | None = None


def address_key(channel: Channel, address: Address) -> str:
    return f"{channel.value}#{address}"


def address_domain(channel: Channel, address: Address) -> str:
    """The part of an address that outages and operator lists group by."""
    if channel is Channel.EMAIL:
        return address.rpartition("@")[2]
    return address[:3]
