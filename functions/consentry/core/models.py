"""One pynamodb model per DynamoDB table of template.yaml.

Items never leave the data-access layer (`consentry.consent.profile_store` and its siblings): they
are mapped to the pydantic models of `consentry.domain` there. `bind_models` points
each model at the table the deployment named; a contract test holds keys and indexes
against the template.
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
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from consentry.core.settings import Settings

OPTED_OUT_BUCKETS = 16
"""Write sharding of the sparse opted-out index: one GSI partition per bucket."""


class OptedOutIndex(GlobalSecondaryIndex["ProfileModel"]):
    """Sparse: only profiles with an opt-out carry `opted_out_bucket`."""

    class Meta:
        index_name = "opted-out"
        projection = IncludeProjection(["opt_out_all", "opt_out_channels"])

    opted_out_bucket = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)


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


class AddressStatusIndex(GlobalSecondaryIndex["AddressModel"]):
    """Sparse: addresses that are not plainly valid, by channel and status, then domain."""

    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True)
    domain_key = UnicodeAttribute(range_key=True)


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
    status_key = UnicodeAttribute(null=True)
    domain_key = UnicodeAttribute(null=True)
    status_index = AddressStatusIndex()


class HeldByDomainIndex(GlobalSecondaryIndex["AddressEventModel"]):
    """Sparse: feedback held back by the outage guard, per channel and domain."""

    class Meta:
        index_name = "held-by-domain"
        projection = AllProjection()

    held_domain = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)


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


class AnalysisModel(Model):
    """A delivery analysis: its record (item `RECORD`) and one item per shard (`SHARD#n`)."""

    class Meta:
        table_name = "analyses"

    delivery_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    request: MapAttribute[str, Any] = MapAttribute(null=True)
    consent_as_of = UTCDateTimeAttribute(null=True)
    audience_size = NumberAttribute(null=True)
    target_size = NumberAttribute(null=True)
    excluded: MapAttribute[str, Any] = MapAttribute(null=True)
    target_uri = UnicodeAttribute(null=True)
    target_parts = NumberAttribute(null=True)
    exclusion_log_uri = UnicodeAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class ImportModel(Model):
    """A bulk import of consent flags and address statuses from a CSV in S3."""

    class Meta:
        table_name = "imports"

    import_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    source_uri = UnicodeAttribute()
    source_etag = UnicodeAttribute()
    status = UnicodeAttribute()
    counts: MapAttribute[str, Any] = MapAttribute(null=True)
    report_uri = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    """Why a failed import failed."""
    lease_until = UTCDateTimeAttribute(null=True)
    """While running: when the run that holds the import ends at the latest."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


MODEL_TABLE_SETTINGS: tuple[tuple[type[Model], str], ...] = (
    (ProfileModel, "profiles_table"),
    (ConsentEventModel, "consent_events_table"),
    (AddressModel, "addresses_table"),
    (AddressEventModel, "address_events_table"),
    (DomainWindowModel, "domain_windows_table"),
    (ServiceModel, "services_table"),
    (SubscriptionModel, "subscriptions_table"),
    (AnalysisModel, "analyses_table"),
    (ImportModel, "imports_table"),
)
"""Each model and the settings field that names its table. The idempotency table
belongs to Powertools' persistence layer and has no model of ours."""


_transactions: Connection | None = None


def bind_models(settings: Settings) -> None:
    """Point every model at the deployment's table names and region."""
    global _transactions  # noqa: PLW0603 (one connection per process, made at cold start)
    for model, field in MODEL_TABLE_SETTINGS:
        model.Meta.table_name = getattr(settings, field)
        model.Meta.region = settings.aws_region
        model._connection = None  # a cached connection would keep the old name
    _transactions = Connection(region=settings.aws_region)


def transactions() -> Connection:
    """The connection TransactWrite uses across the bound tables."""
    if _transactions is None:
        raise RuntimeError("bind_models() has not been called")
    return _transactions
