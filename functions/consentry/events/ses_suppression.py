"""What an address status change asks of SES's account-level suppression list.

An e-mail address quarantined by bounces goes on the list with reason BOUNCE, one
denylisted by a complaint with reason COMPLAINT; an address that leaves quarantine or
the denylist (an operator's release or allowlisting, a release that fell due) comes
off it. SES then refuses what Consentry has quarantined, even for mail sent around
Consentry. Nothing else touches the list: an opt-out is a profile's choice, not an
undeliverable address.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from consentry.addresses.status import AddressStatus
from consentry.core.types import Address, Channel
from consentry.events.changes import DetailType, change_of
from consentry.events.records import read_record


class Operation(StrEnum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, kw_only=True, slots=True)
class SuppressionRequest:
    """A change to SES's suppression list, as a stream record asks for it."""

    operation: Operation
    email_address: str
    reason: str | None = None
    """BOUNCE or COMPLAINT, for a put."""

    def call(self) -> tuple[str, dict[str, Any]]:
        """The SESv2 operation and its parameters."""
        if self.operation is Operation.PUT:
            return "put_suppressed_destination", {
                "EmailAddress": self.email_address,
                "Reason": self.reason,
            }
        return "delete_suppressed_destination", {"EmailAddress": self.email_address}


_BLOCKED = {AddressStatus.QUARANTINE.value, AddressStatus.DENYLISTED.value}
_REASONS = {
    ("bounce", AddressStatus.QUARANTINE.value): "BOUNCE",
    ("complaint", AddressStatus.DENYLISTED.value): "COMPLAINT",
}


def _unkeyed(_channel: Channel, _address: Address) -> str:
    return ""


def suppression_request(record: Mapping[str, Any]) -> SuppressionRequest | None:
    """The change to SES's suppression list a stream record asks for, if any."""
    change = change_of(read_record(record), _unkeyed)
    if change is None or change.detail_type is not DetailType.ADDRESS_STATUS_CHANGED:
        return None
    detail = change.detail
    if detail["channel"] != Channel.EMAIL.value:
        return None
    address = str(record["dynamodb"]["NewImage"]["address_key"]["S"]).partition("#")[2]
    reason = _REASONS.get((detail["source"], detail["newState"]))
    if reason is not None:
        return SuppressionRequest(operation=Operation.PUT, email_address=address, reason=reason)
    if detail["previousState"] in _BLOCKED and detail["newState"] not in _BLOCKED:
        return SuppressionRequest(operation=Operation.DELETE, email_address=address)
    return None
