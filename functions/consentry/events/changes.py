"""What one stream record of the consent-events or address-events table publishes.

A consent event (INSERT) is a `Consent Changed` event, or a `Subscription Changed`
event when its scope is a service. An address event is an `Address Status Changed`
event when its write changed the address's status: an INSERT whose detail says the
status before and after differ, or a MODIFY that changed the status it records (an
operator applying feedback the outage guard held). The outage guard putting applied
feedback back on hold writes an `outage_hold` event that undoes its status change; an
operator's lift of an erased address goes from `erased` to `valid`. Everything else
publishes nothing: feedback that left the status as it was, held feedback, erasures of
personal fields (MODIFY) and deletions.

Addresses never leave in clear: an address event carries the address's keyed
fingerprint (the one erasure keeps, `consentry.privacy.fingerprints`) and its masked
form. The event id is deterministic (the consent event's chain hash; a hash of the
address event's key and the address's version), so a record published twice carries
the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from consentry.addresses.events import EventKind
from consentry.core.observability import mask_address
from consentry.core.types import Address, Channel, ScopeKind
from consentry.events.records import StreamRecord

EVENT_SOURCE = "consentry"
"""The `source` of every event on the bus."""

AddressFingerprint = Callable[[Channel, Address], str]


class DetailType(StrEnum):
    CONSENT_CHANGED = "Consent Changed"
    SUBSCRIPTION_CHANGED = "Subscription Changed"
    ADDRESS_STATUS_CHANGED = "Address Status Changed"


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One event to publish: its detail lacks only `publishedAt`."""

    detail_type: DetailType
    detail: dict[str, Any]
    requested_at: datetime
    effective_at: datetime

    @property
    def honour_ms(self) -> float:
        """HonourLatency: from requested to effective."""
        return (self.effective_at - self.requested_at).total_seconds() * 1000

    def published(self, at: datetime) -> dict[str, Any]:
        return {**self.detail, "publishedAt": _iso(at)}


_NEW_STATES = {"opt_out": "opted_out", "opt_in": "opted_in", "erase": "erased"}
_STORED_TIME = "%Y-%m-%dT%H:%M:%S.%f%z"
"""How pynamodb's UTCDateTimeAttribute writes a time."""


def change_of(record: StreamRecord, fingerprint: AddressFingerprint) -> Change | None:
    """The event a stream record publishes."""
    new = record.new
    if new is None:
        return None
    if "seq" in record.keys:
        return _consent_change(new) if record.event_name == "INSERT" else None
    if "address_key" in record.keys:
        if record.written_at is None:
            raise ValueError("an address event's record without its creation time")
        return _address_change(new, record.old, record.written_at, fingerprint)
    return None


def _consent_change(item: dict[str, Any]) -> Change:
    effective = stored_time(item["at"])
    requested = stored_time(item["requested_at"]) if "requested_at" in item else effective
    scope = str(item["scope"])
    action = str(item["action"])
    detail: dict[str, Any] = {
        "eventId": item["hash"],
        "profileId": item["profile_id"],
        "sequence": int(item["seq"]),
        "scope": scope,
        "action": action,
        "source": item["source"],
        "actor": item["actor"],
        "requestedAt": _iso(requested),
        "effectiveAt": _iso(effective),
    }
    kind, _, value = scope.partition(":")
    if kind == ScopeKind.SERVICE.value:
        detail |= {"serviceId": value, "newState": str(item.get("result") or action)}
        if "expires_at" in item:
            detail["expiresAt"] = _iso(stored_time(item["expires_at"]))
        return Change(
            detail_type=DetailType.SUBSCRIPTION_CHANGED,
            detail=detail,
            requested_at=requested,
            effective_at=effective,
        )
    detail["newState"] = _NEW_STATES.get(action, action)
    return Change(
        detail_type=DetailType.CONSENT_CHANGED,
        detail=detail,
        requested_at=requested,
        effective_at=effective,
    )


def _address_change(
    item: dict[str, Any],
    old: dict[str, Any] | None,
    written_at: datetime,
    fingerprint: AddressFingerprint,
) -> Change | None:
    if item.get("held_domain") is not None:
        return None
    detail = item.get("detail") or {}
    status = detail.get("status")
    if old is None:
        previous = detail.get("previous_status")
    else:
        previous = (old.get("detail") or {}).get("status")
    if status is None or previous is None or status == previous:
        return None
    channel_text, _, address_text = str(item["address_key"]).partition("#")
    channel = Channel(channel_text)
    if item["kind"] == EventKind.LIFT:
        # An erased address's lift: keyed by the fingerprint erasure kept.
        address_key, masked = address_text, str(detail["masked"])
    else:
        address = Address(address_text)
        address_key, masked = fingerprint(channel, address), mask_address(address)
    version = int(detail.get("version", 0))
    requested = stored_time(item["at"])
    # The stream's creation time is when the write happened; it is precise to the
    # second on AWS, so it never reads as earlier than the request it answers.
    effective = max(written_at, requested)
    seed = f"{item['address_key']}\n{item['event_id']}\n{version}"
    published: dict[str, Any] = {
        "eventId": hashlib.sha256(seed.encode()).hexdigest(),
        "addressKey": address_key,
        "maskedAddress": masked,
        "channel": channel.value,
        "sequence": version,
        "scope": f"{ScopeKind.CHANNEL.value}:{channel.value}",
        "newState": status,
        "previousState": previous,
        "source": item["kind"],
        "actor": item.get("actor") or item["kind"],
        "requestedAt": _iso(requested),
        "effectiveAt": _iso(effective),
    }
    if item.get("reason") is not None:
        published["reason"] = item["reason"]
    return Change(
        detail_type=DetailType.ADDRESS_STATUS_CHANGED,
        detail=published,
        requested_at=requested,
        effective_at=effective,
    )


def stored_time(text: str) -> datetime:
    """A time as pynamodb stores it, in UTC."""
    return datetime.strptime(text, _STORED_TIME).astimezone(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
