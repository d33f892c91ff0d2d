"""The consent tables: profiles, their consent events, services and subscriptions.

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

OPTED_OUT_BUCKETS = 16
"""Write sharding of the sparse opted-out index: one GSI partition per bucket."""


class OptedOutIndex(GlobalSecondaryIndex["ProfileModel"]):
    """Sparse: only profiles with an opt-out carry `opted_out_bucket`."""

    class Meta:
        index_name = "opted-out"
        projection = IncludeProjection(["opt_out_all", "opt_out_channels"])

    opted_out_bucket = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)


class ProfileChangedIndex(GlobalSecondaryIndex["ProfileModel"]):
    """Every profile by when it was last written (consentry.core.changed), with its
    opt-out flags: what changed since a stored suppression snapshot."""

    class Meta:
        index_name = "changed"
        projection = IncludeProjection(["opt_out_all", "opt_out_channels"])

    changed_day = UnicodeAttribute(hash_key=True)
    changed_at = UTCDateTimeAttribute(range_key=True)


@table("profiles_table")
class ProfileModel(Model):
    """Consent state of one profile: what it opted out of, its addresses, its version."""

    class Meta:
        table_name = "profiles"

    profile_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(default=0)
    head_seq = NumberAttribute(default=0)
    opt_out_all = BooleanAttribute(default=False)
    opt_out_channels = UnicodeSetAttribute(null=True)
    addresses: MapAttribute[str, Any] = MapAttribute(null=True)
    locale = UnicodeAttribute(null=True)
    head_hash = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    opted_out_bucket = UnicodeAttribute(null=True)
    opted_out_index = OptedOutIndex()
    erased_at = UTCDateTimeAttribute(null=True)
    erasure: MapAttribute[str, Any] = MapAttribute(null=True)
    """What the erasure erased (counts, reason, actor); set with `erased_at`."""
    changed_day = UnicodeAttribute(null=True)
    changed_at = UTCDateTimeAttribute(null=True)
    """When the item was last written (every write sets both)."""
    changed_index = ProfileChangedIndex()


@table("consent_events_table")
class ConsentEventModel(Model):
    """The append-only proof of consent: one item per change, chained by hash."""

    class Meta:
        table_name = "consent-events"

    profile_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    scope = UnicodeAttribute()
    action = UnicodeAttribute()
    source = UnicodeAttribute()
    actor = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    user_agent = UnicodeAttribute(null=True)
    delivery_id = UnicodeAttribute(null=True)
    wording_version = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()
    form = NumberAttribute(null=True)
    """Which fields the hash covers; absent on the events of form 1."""
    requested_at = UTCDateTimeAttribute(null=True)
    ip_commitment = UnicodeAttribute(null=True)
    ip_salt = UnicodeAttribute(null=True)
    user_agent_commitment = UnicodeAttribute(null=True)
    user_agent_salt = UnicodeAttribute(null=True)
    erased_at = UTCDateTimeAttribute(null=True)


@table("services_table")
class ServiceModel(Model):
    """A newsletter or topic that profiles subscribe to."""

    class Meta:
        table_name = "services"

    service_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    label = UnicodeAttribute()
    public_label = UnicodeAttribute()
    channel = UnicodeAttribute()
    confirmation = UnicodeAttribute()
    valid_from = UTCDateTimeAttribute(null=True)
    valid_until = UTCDateTimeAttribute(null=True)
    subscription_days = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=0)


class ByProfileIndex(GlobalSecondaryIndex["SubscriptionModel"]):
    class Meta:
        index_name = "by-profile"
        projection = AllProjection()

    profile_id = UnicodeAttribute(hash_key=True)
    service_id = UnicodeAttribute(range_key=True)


@table("subscriptions_table")
class SubscriptionModel(Model):
    """One profile's subscription to one service."""

    class Meta:
        table_name = "subscriptions"

    service_id = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    confirmed_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = NumberAttribute(default=0)
    by_profile = ByProfileIndex()


@table("rate_limits_table")
class RateLimitModel(Model):
    """How often one mailbox or client used the public subscription form in one hour."""

    class Meta:
        table_name = "rate-limits"

    limit_key = UnicodeAttribute(hash_key=True)
    uses = NumberAttribute(default=0)
    expires_at = TTLAttribute()
