"""The address tables: addresses, their history, and the outage guard's domain windows.

Items never leave the stores of this package; a contract test holds keys and indexes
against template.yaml.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from consentry.core.persistence import table


class AddressStatusIndex(GlobalSecondaryIndex["AddressModel"]):
    """Sparse: addresses that are not plainly valid, by channel and status, then domain."""

    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True)
    domain_key = UnicodeAttribute(range_key=True)


class BlockedIndex(GlobalSecondaryIndex["AddressModel"]):
    """The same sparse keys by status, then address, with only what says whether a
    quarantine has ended by itself: what an analysis reads of the denylisted and
    quarantined addresses (an item of ~60-110 bytes instead of ~260)."""

    class Meta:
        index_name = "blocked"
        projection = IncludeProjection(["error_status", "reason", "release_at"])

    status_key = UnicodeAttribute(hash_key=True)
    address_key = UnicodeAttribute(range_key=True)


class AddressChangedIndex(GlobalSecondaryIndex["AddressModel"]):
    """Every address by when it was last written (consentry.core.changed), with what
    says whether it blocks a delivery: what changed since a stored suppression
    snapshot."""

    class Meta:
        index_name = "changed"
        projection = IncludeProjection(["status", "error_status", "reason", "release_at"])

    changed_day = UnicodeAttribute(hash_key=True)
    changed_at = UTCDateTimeAttribute(range_key=True)


@table("addresses_table")
class AddressModel(Model):
    """Quarantine, denylist and allowlist state of one channel's normalized address."""

    class Meta:
        table_name = "addresses"

    address_key = UnicodeAttribute(hash_key=True)
    channel = UnicodeAttribute()
    address = UnicodeAttribute()
    status = UnicodeAttribute()
    """Derived (AddressState.status), stored for reads and the index."""
    error_status = UnicodeAttribute(default="valid")
    reason = UnicodeAttribute(null=True)
    error_count = NumberAttribute(default=0)
    last_counted_error_at = UTCDateTimeAttribute(null=True)
    release_at = UTCDateTimeAttribute(null=True)
    denylist_origins = UnicodeSetAttribute(null=True)
    allowlisted = BooleanAttribute(default=False)
    updated_at = UTCDateTimeAttribute(null=True)
    version = NumberAttribute(default=0)
    counting = UnicodeAttribute(null=True)
    """The outcomes of the reorder window, their base health and the time of the last
    operator decision, as compact JSON (AddressState.occurrences, base, decided_at)."""
    status_key = UnicodeAttribute(null=True)
    domain_key = UnicodeAttribute(null=True)
    changed_day = UnicodeAttribute(null=True)
    changed_at = UTCDateTimeAttribute(null=True)
    """When the item was last written (every write sets both)."""
    status_index = AddressStatusIndex()
    blocked_index = BlockedIndex()
    changed_index = AddressChangedIndex()


class HeldByDomainIndex(GlobalSecondaryIndex["AddressEventModel"]):
    """Sparse: feedback held back by the outage guard, per channel and domain."""

    class Meta:
        index_name = "held-by-domain"
        projection = AllProjection()

    held_domain = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


@table("address_events_table")
class AddressEventModel(Model):
    """History of one address: feedback, keywords and operator actions."""

    class Meta:
        table_name = "address-events"

    address_key = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    error_type = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    actor = UnicodeAttribute(null=True)
    detail: MapAttribute[str, Any] = MapAttribute(null=True)
    held_domain = UnicodeAttribute(null=True)
    held_index = HeldByDomainIndex()


@table("domain_windows_table")
class DomainWindowModel(Model):
    """Feedback counts per recipient domain and time window, for the outage guard."""

    class Meta:
        table_name = "domain-windows"

    domain_key = UnicodeAttribute(hash_key=True)
    window_start = NumberAttribute(range_key=True)
    attempts = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)
    held = BooleanAttribute(default=False)
    expires_at = TTLAttribute()
    look_back_since = UTCDateTimeAttribute(null=True)
    """A hold's: the window's start, while failures applied since then are to be held."""
    look_back_cursor = UnicodeAttribute(null=True)
    look_back_lease = UTCDateTimeAttribute(null=True)
