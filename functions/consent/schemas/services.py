"""The shapes of /v1/services: services, their validity, subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from consent.commands import ApiModel
from consent.schemas.fields import Reason
from consentry.consent.subscriptions import Confirmation, Service, Subscription, SubscriptionStatus
from consentry.core.types import Channel
from consentry.core.wire import Count, IdentifierStr, Moment


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
