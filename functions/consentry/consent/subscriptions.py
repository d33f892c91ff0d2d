"""Services and subscriptions as plain values and rules (domain.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from consentry.core.errors import InvalidInputError
from consentry.core.types import Channel, ProfileId, ServiceId


class Confirmation(StrEnum):
    NONE = "none"
    CONFIRMATION_MESSAGE = "confirmation_message"
    DOUBLE_OPT_IN = "double_opt_in"


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, kw_only=True)
class Service:
    service_id: ServiceId
    name: str
    label: str
    public_label: str
    channel: Channel
    confirmation: Confirmation
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    subscription_days: int | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1

    def open_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_until is None or at < self.valid_until
        )

    def expiry_from(self, at: datetime) -> datetime | None:
        """When a subscription confirmed at `at` ends: its duration, capped by the service's end."""
        ends = [self.valid_until] if self.valid_until else []
        if self.subscription_days:
            ends.append(at + timedelta(days=self.subscription_days))
        return min(ends) if ends else None


@dataclass(frozen=True, kw_only=True)
class Subscription:
    service_id: ServiceId
    profile_id: ProfileId
    status: SubscriptionStatus
    expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    updated_at: datetime
    version: int = 0

    def active(self, at: datetime) -> bool:
        """Confirmed and not expired: the only state a service delivery goes to."""
        return self.status is SubscriptionStatus.SUBSCRIBED and (
            self.expires_at is None or at < self.expires_at
        )


def subscribe(
    service: Service,
    profile_id: ProfileId,
    current: Subscription | None,
    requested: SubscriptionStatus,
    at: datetime,
) -> Subscription:
    """The subscription after a subscribe request.

    It is `pending` when the service asks for double opt-in, when the request asks
    for it, or when the profile had unsubscribed (re-subscribing needs a fresh
    confirmation); otherwise it is `subscribed` at once. A pending subscription stays
    pending until it is confirmed.
    """
    if requested is SubscriptionStatus.UNSUBSCRIBED:
        raise InvalidInputError("status", "use unsubscribe to end a subscription")
    if not service.open_at(at):
        raise InvalidInputError("serviceId", "the service is not open for subscriptions")
    if current is not None and (current.active(at) or current.status is SubscriptionStatus.PENDING):
        # Only `confirm` ends a pending subscription: a repeated subscribe must not
        # skip the confirmation that the first one asked for.
        return current
    needs_confirmation = (
        requested is SubscriptionStatus.PENDING
        or service.confirmation is Confirmation.DOUBLE_OPT_IN
        or (current is not None and current.status is SubscriptionStatus.UNSUBSCRIBED)
    )
    if needs_confirmation:
        return Subscription(
            service_id=service.service_id,
            profile_id=profile_id,
            status=SubscriptionStatus.PENDING,
            updated_at=at,
            version=current.version if current else 0,
        )
    return _confirmed(service, profile_id, current, at)


def confirm(
    service: Service, profile_id: ProfileId, current: Subscription | None, at: datetime
) -> Subscription:
    """A pending subscription confirmed by its owner."""
    if current is not None and current.active(at):
        return current
    if current is None or current.status is not SubscriptionStatus.PENDING:
        raise InvalidInputError("status", "there is no pending subscription to confirm")
    if not service.open_at(at):
        raise InvalidInputError("serviceId", "the service is not open for subscriptions")
    return _confirmed(service, profile_id, current, at)


def unsubscribe(current: Subscription | None, at: datetime) -> Subscription | None:
    """The subscription after an unsubscribe; None when there was nothing to end."""
    if current is None or current.status is SubscriptionStatus.UNSUBSCRIBED:
        return current
    return replace(current, status=SubscriptionStatus.UNSUBSCRIBED, expires_at=None, updated_at=at)


def _confirmed(
    service: Service, profile_id: ProfileId, current: Subscription | None, at: datetime
) -> Subscription:
    return Subscription(
        service_id=service.service_id,
        profile_id=profile_id,
        status=SubscriptionStatus.SUBSCRIBED,
        expires_at=service.expiry_from(at),
        confirmed_at=at,
        updated_at=at,
        version=current.version if current else 0,
    )
