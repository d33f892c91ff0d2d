"""The JSON shapes of the operator API: camelCase on the wire, documented in the OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from consent.api import ApiModel
from consentry.addresses.status import AddressState, AddressStatus
from consentry.consent.rules import ConsentEvent, ConsentState
from consentry.consent.subscriptions import Confirmation, Service, Subscription, SubscriptionStatus
from consentry.core.types import Action, Channel, MessageClass, Source
from consentry.imports.rules import ImportKind, ImportRecord, ImportStatus

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
RawAddress = Annotated[str, StringConstraints(min_length=1, max_length=320)]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+\-]+$")
]


class EventOut(ApiModel):
    seq: int
    at: datetime
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

    @classmethod
    def of(cls, event: ConsentEvent) -> EventOut:
        return cls.model_validate(event.model_dump(exclude={"profile_id"}))


class NoLongerContact(ApiModel):
    """`true` stops marketing on that channel (`all`: on every channel)."""

    all: bool | None = None
    email: bool | None = None
    sms: bool | None = None
    phone: bool | None = None
    direct_mail: bool | None = Field(default=None, alias="direct_mail")
    push: bool | None = None


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


class AddressOut(ApiModel):
    channel: Channel
    address: str
    status: AddressStatus
    reason: str | None
    error_count: int
    denylist_origins: list[str]
    updated_at: datetime | None

    @classmethod
    def of(cls, state: AddressState) -> AddressOut:
        return cls(
            channel=state.channel,
            address=state.address,
            status=state.status,
            reason=state.reason,
            error_count=state.error_count,
            denylist_origins=sorted(state.denylist_origins),
            updated_at=state.updated_at,
        )


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
    start: datetime | None = None
    end: datetime | None = None
    subscription_days: int | None = Field(default=None, ge=1, le=3650)


class ServiceIn(ApiModel):
    name: Identifier
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
    profile_id: Identifier
    address: Annotated[str, StringConstraints(max_length=320)]
    channel: Channel
    message_class: MessageClass
    service_id: Identifier | None = None


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
    profile_id: Identifier
    scope: LinkScope | None = None
    """This recipient's scope, when it is not the request's."""


class LinksIn(ApiModel):
    delivery_id: Identifier
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
