"""The JSON shapes of the operator API: camelCase on the wire, documented in the OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from consent.commands import ApiModel
from consentry.addresses.events import AddressEvent, Decision
from consentry.addresses.status import AddressState, AddressStatus
from consentry.analysis.contract import AnalysisStatus
from consentry.analysis.exclusion import ExclusionCause
from consentry.consent.rules import ConsentEvent, ConsentState
from consentry.consent.subscriptions import (
    Confirmation,
    Service,
    Subscription,
    SubscriptionStatus,
)
from consentry.core.types import (
    Action,
    Channel,
    Count,
    Flag,
    IdentifierStr,
    MessageClass,
    Moment,
    Source,
)
from consentry.imports.rules import ImportKind, ImportRecord, ImportStatus


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("must be true or false; leave it out to keep it as it is")
    return value


Choice = Annotated[Flag | None, BeforeValidator(_not_null), WithJsonSchema({"type": "boolean"})]
"""A flag that may be left out (and then keeps what it was), but is never null."""
MAX_REASON = 500
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
]
"""Why a change is made: required of operators, kept in the history."""
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
RawAddress = Annotated[str, StringConstraints(min_length=1, max_length=320)]
FailureReasonFilter = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REASON)]
Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=253, pattern=r"^[^\s#@]+$"
    ),
]


class EventOut(ApiModel):
    """One event of the proof of consent, with what it takes to check its hash: the
    personal values (until erased) and, for form 2, their commitments."""

    seq: int
    at: datetime
    """When the change was made effective."""
    requested_at: datetime | None
    """When the person or system asked (form 2)."""
    form: int
    """1: the hash covers every field below; 2: the personal ones as commitments."""
    scope: str
    action: Action
    source: Source
    actor: str
    reason: str | None
    ip: str | None
    user_agent: str | None
    delivery_id: str | None
    wording_version: str | None
    result: SubscriptionStatus | None
    expires_at: datetime | None
    prev_hash: str
    hash: str
    ip_commitment: str | None
    user_agent_commitment: str | None
    erased_at: datetime | None
    """When the personal values were erased (their commitments stay)."""

    @classmethod
    def of(cls, event: ConsentEvent) -> EventOut:
        return cls.model_validate(
            event.model_dump(exclude={"profile_id", "ip_salt", "user_agent_salt"})
        )


def _named_channels(schema: dict[str, Any]) -> None:
    """At least one channel is named; one left out has no value (not a null default)."""
    schema["minProperties"] = 1
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class NoLongerContact(ApiModel):
    """`true` stops marketing on that channel (`all`: on every channel); a channel left
    out stays as it is. At least one is named."""

    model_config = ConfigDict(json_schema_extra=_named_channels)

    all: Choice = None
    email: Choice = None
    sms: Choice = None
    phone: Choice = None
    direct_mail: Choice = Field(default=None, alias="direct_mail")
    push: Choice = None


class ConsentOut(ApiModel):
    profile_id: str
    version: int
    no_longer_contact: dict[str, bool]
    """`all` and one entry per channel."""
    addresses: dict[Channel, str]
    locale: str | None
    updated_at: datetime | None
    latest_events: list[EventOut]

    @classmethod
    def of(cls, state: ConsentState, events: list[ConsentEvent]) -> ConsentOut:
        flags = {"all": state.opt_out_all} | {
            channel.value: channel in state.opt_out_channels for channel in Channel
        }
        return cls(
            profile_id=state.profile_id,
            version=state.version,
            no_longer_contact=flags,
            addresses=state.addresses,
            locale=state.locale,
            updated_at=state.updated_at,
            latest_events=[EventOut.of(event) for event in events],
        )


class ConsentChangeOut(ConsentOut):
    """The consent after a change, and whether the change changed anything."""

    changed: bool
    """False when the profile already was as asked: nothing was written."""


class ProfileIn(ApiModel):
    addresses: dict[Channel, RawAddress] = Field(default_factory=dict)
    locale: Locale | None = None


class ConsentPatch(ApiModel):
    no_longer_contact: NoLongerContact
    reason: Reason
    source: Literal["operator", "api"] = "operator"


class HistoryOut(ApiModel):
    items: list[EventOut]
    next_cursor: str | None


class VerifyOut(ApiModel):
    profile_id: str
    events: int
    valid: bool
    first_broken_seq: int | None
    """The first event whose hash or link does not hold (or the first missing one)."""
    head_hash: str


class SubscriptionOut(ApiModel):
    service_id: str
    profile_id: str
    status: SubscriptionStatus
    active: bool
    expires_at: datetime | None
    confirmed_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, subscription: Subscription, at: datetime) -> SubscriptionOut:
        return cls(
            service_id=subscription.service_id,
            profile_id=subscription.profile_id,
            status=subscription.status,
            active=subscription.active(at),
            expires_at=subscription.expires_at,
            confirmed_at=subscription.confirmed_at,
            updated_at=subscription.updated_at,
        )


class ExportOut(ApiModel):
    """Everything held about one profile, for a data-subject access request."""

    consent: ConsentOut
    events: list[EventOut]
    subscriptions: list[SubscriptionOut]
    addresses: list[AddressOut]


class Validity(ApiModel):
    start: Moment | None = None
    end: Moment | None = None
    subscription_days: Count | None = Field(default=None, ge=1, le=3650)


class ServiceIn(ApiModel):
    name: IdentifierStr
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    public_label: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    channel: Channel
    confirmation: Confirmation = Confirmation.NONE
    validity: Validity = Field(default_factory=Validity)


class ServicePatch(ApiModel):
    label: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    public_label: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    confirmation: Confirmation | None = None
    validity: Validity | None = None


class ServiceOut(ApiModel):
    service_id: str
    name: str
    label: str
    public_label: str
    channel: Channel
    confirmation: Confirmation
    validity: Validity
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, service: Service) -> ServiceOut:
        return cls(
            service_id=service.service_id,
            name=service.name,
            label=service.label,
            public_label=service.public_label,
            channel=service.channel,
            confirmation=service.confirmation,
            validity=Validity(
                start=service.valid_from,
                end=service.valid_until,
                subscription_days=service.subscription_days,
            ),
            version=service.version,
            created_at=service.created_at,
            updated_at=service.updated_at,
        )


class ServicesOut(ApiModel):
    items: list[ServiceOut]
    next_cursor: str | None


class SubscribersOut(ApiModel):
    items: list[SubscriptionOut]
    next_cursor: str | None


class SubscriptionIn(ApiModel):
    status: Literal["subscribed", "pending"]
    reason: Reason


class CheckItemIn(ApiModel):
    profile_id: IdentifierStr
    address: Annotated[str, StringConstraints(max_length=320)]
    channel: Channel
    message_class: MessageClass
    service_id: IdentifierStr | None = None


class ChecksIn(ApiModel):
    items: Annotated[list[CheckItemIn], Field(min_length=1, max_length=100)]


class CheckResultOut(ApiModel):
    verdict: Literal["allowed", "blocked"]
    reason: str | None


class ChecksOut(ApiModel):
    results: list[CheckResultOut]


class ImportIn(ApiModel):
    uri: Annotated[str, StringConstraints(pattern=r"^s3://[^/\s]+/.+$", max_length=1100)] = Field(
        description="The CSV to import: `s3://<the deployment's data bucket>/<key>`"
    )
    kind: ImportKind


class ImportCountsOut(ApiModel):
    rows: int
    applied: int
    rejected: int
    unchanged: int


class ImportOut(ApiModel):
    import_id: str
    kind: ImportKind
    uri: str
    status: ImportStatus
    counts: ImportCountsOut
    report_uri: str | None
    """`row,outcome,reason` for every row, once the rows have been applied."""
    error: str | None
    """Why a failed import failed."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ImportRecord) -> ImportOut:
        return cls(
            import_id=record.import_id,
            kind=record.kind,
            uri=record.source_uri,
            status=record.status,
            counts=ImportCountsOut.model_validate(record.counts.model_dump()),
            report_uri=record.report_uri,
            error=record.error,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


LinkScope = Annotated[
    str,
    StringConstraints(
        pattern=r"^(all|channel:(email|sms|phone|direct_mail|push)|service:[A-Za-z0-9._:@+\-]{1,64})$"
    ),
]


class LinkRecipientIn(ApiModel):
    profile_id: IdentifierStr
    scope: LinkScope | None = None
    """This recipient's scope, when it is not the request's."""


class LinksIn(ApiModel):
    delivery_id: IdentifierStr
    scope: LinkScope = Field(
        default="all",
        description="What the unsubscribe and one-click links stop: `all`, "
        "`channel:<channel>` or `service:<serviceId>`",
    )
    recipients: Annotated[list[LinkRecipientIn], Field(min_length=1, max_length=1000)]


class LinkOut(ApiModel):
    profile_id: str
    scope: str
    preferences_url: str
    unsubscribe_url: str
    one_click_url: str
    headers: dict[str, str]
    """`List-Unsubscribe` and `List-Unsubscribe-Post`, ready to put on the message."""
    expires_at: datetime


class LinksOut(ApiModel):
    delivery_id: str
    issued_at: datetime
    items: list[LinkOut]


# ---------------------------------------------------------------- addresses and outages
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


# ---------------------------------------------------------------- analyses
class AnalysisStarted(ApiModel):
    delivery_id: str
    execution_arn: str
    status: AnalysisStatus


class ExplainedRow(ApiModel):
    row: int
    """The row's number in the audience: 1 is the first row after the header."""
    profile_id: str
    address: str
    verdict: Literal["targeted"] | ExclusionCause


class ExplainOut(ApiModel):
    delivery_id: str
    consent_as_of: datetime | None
    rows: list[ExplainedRow]
    """Every row of the audience with this address (and profile id, when given)."""


class ErasureIn(ApiModel):
    """Why the profile is erased (the person's request, its reference)."""

    reason: Reason


class ErasureOut(ApiModel):
    """What an erasure erased, when and by whom; the same on every later request."""

    profile_id: str
    erased_at: datetime
    actor: str
    reason: str
    addresses: int
    """Addresses removed, each with its quarantine item and history."""
    address_events: int
    events: int
    """Consent events whose IP address and user agent were removed (the chain holds)."""
    pending_subscriptions: int
    suppressions_kept: int
    """Addresses whose opt-out, denylist or quarantine is kept as a keyed fingerprint."""


class LiftErasedIn(ApiModel):
    """An erased address whose kept suppression an operator lifts, and why."""

    channel: Channel
    address: RawAddress
    reason: Reason


class ErasedSuppressionOut(ApiModel):
    channel: Channel
    cause: str
    reason: str | None
    erased_at: datetime


class LatencyOut(ApiModel):
    """A latency over the window: how many changes, and the upper bound of the bucket
    their median and 99th percentile fall in (milliseconds; null when none)."""

    count: int
    p50: int | None
    p99: int | None


class HonourOut(ApiModel):
    as_of: datetime
    window_hours: int
    honour_latency_ms: LatencyOut
    """From when the person or system asked to when Consentry made it effective."""
    publish_lag_ms: LatencyOut
    """From when it was effective to when it was published on the event bus."""
