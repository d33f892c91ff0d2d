"""Data access for services and subscriptions: the only module that maps their tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from consentry.consent.subscriptions import Confirmation, Service, Subscription, SubscriptionStatus
from consentry.consent.tables import ServiceModel, SubscriptionModel
from consentry.core.errors import NotFoundError, StaleVersionError
from consentry.core.pagination import Page, decode_cursor, encode_cursor
from consentry.core.persistence import LostRace, dynamodb
from consentry.core.types import Channel, ProfileId, ServiceId


def get_service(service_id: ServiceId) -> Service:
    with dynamodb():
        try:
            return _to_service(ServiceModel.get(service_id, consistent_read=True))
        except ServiceModel.DoesNotExist:
            raise NotFoundError("service", service_id) from None


def save_service(service: Service, *, expected_version: int | None) -> Service:
    """Create (expected_version None) or replace a service at the version it was read."""
    condition = (
        ServiceModel.service_id.does_not_exist()
        if expected_version is None
        else ServiceModel.version == expected_version
    )
    stored = replace(service, version=(expected_version or 0) + 1)
    try:
        with dynamodb():
            _to_service_item(stored).save(condition=condition)
    except LostRace as race:
        actual = get_service(service.service_id).version
        raise StaleVersionError(expected_version or 0, actual) from race
    return stored


def list_services(limit: int, cursor: str | None) -> Page[Service]:
    with dynamodb():
        result = ServiceModel.scan(
            limit=limit, last_evaluated_key=decode_cursor(cursor, {"service_id": "S"})
        )
        items = [_to_service(item) for item in result]
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def find_subscription(service_id: ServiceId, profile_id: ProfileId) -> Subscription | None:
    with dynamodb():
        try:
            item = SubscriptionModel.get(service_id, profile_id, consistent_read=True)
        except SubscriptionModel.DoesNotExist:
            return None
    return to_subscription(item)


def list_subscribers(
    service_id: ServiceId, limit: int, cursor: str | None, status: SubscriptionStatus | None
) -> Page[Subscription]:
    with dynamodb():
        result = SubscriptionModel.query(
            service_id,
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor, {"service_id": "S", "profile_id": "S"}, {"service_id": service_id}
            ),
            filter_condition=(SubscriptionModel.status == status.value) if status else None,
        )
        items = [to_subscription(item) for item in result]
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def subscriptions_of(profile_id: ProfileId) -> list[Subscription]:
    with dynamodb():
        return [to_subscription(i) for i in SubscriptionModel.by_profile.query(profile_id)]


def find_subscriptions(
    keys: set[tuple[ServiceId, ProfileId]],
) -> dict[tuple[str, str], Subscription]:
    with dynamodb():
        items = list(SubscriptionModel.batch_get(keys))
    return {(i.service_id, i.profile_id): to_subscription(i) for i in items}


def ended_services(at: datetime) -> list[Service]:
    """Services whose validity has ended by `at` (few: services are a short list)."""
    with dynamodb():
        items = ServiceModel.scan(ServiceModel.valid_until <= at)
        return [_to_service(item) for item in items]


def unchanged_since(subscription: Subscription | None) -> Any:
    if subscription is None or subscription.version == 0:
        return SubscriptionModel.profile_id.does_not_exist()
    return SubscriptionModel.version == subscription.version


def to_subscription_item(subscription: Subscription) -> SubscriptionModel:
    return SubscriptionModel(
        subscription.service_id,
        subscription.profile_id,
        status=subscription.status.value,
        expires_at=subscription.expires_at,
        confirmed_at=subscription.confirmed_at,
        updated_at=subscription.updated_at,
        version=subscription.version + 1,
    )


def to_subscription(item: SubscriptionModel) -> Subscription:
    return Subscription(
        service_id=ServiceId(item.service_id),
        profile_id=ProfileId(item.profile_id),
        status=SubscriptionStatus(item.status),
        expires_at=item.expires_at,
        confirmed_at=item.confirmed_at,
        updated_at=item.updated_at,
        version=int(item.version),
    )


def _to_service(item: ServiceModel) -> Service:
    return Service(
        service_id=ServiceId(item.service_id),
        name=item.name,
        label=item.label,
        public_label=item.public_label,
        channel=Channel(item.channel),
        confirmation=Confirmation(item.confirmation),
        valid_from=item.valid_from,
        valid_until=item.valid_until,
        subscription_days=int(item.subscription_days) if item.subscription_days else None,
        created_at=item.created_at,
        updated_at=item.updated_at,
        version=int(item.version),
    )


def _to_service_item(service: Service) -> ServiceModel:
    return ServiceModel(
        service.service_id,
        name=service.name,
        label=service.label,
        public_label=service.public_label,
        channel=service.channel.value,
        confirmation=service.confirmation.value,
        valid_from=service.valid_from,
        valid_until=service.valid_until,
        subscription_days=service.subscription_days,
        created_at=service.created_at,
        updated_at=service.updated_at,
        version=service.version,
    )


def forget_pending(profile_id: ProfileId) -> int:
    """Delete the profile's subscriptions still waiting for their confirmation (an
    erasure: no confirmation may be sent to it any more). How many there were."""
    pending = [s for s in subscriptions_of(profile_id) if s.status is SubscriptionStatus.PENDING]
    with dynamodb(), SubscriptionModel.batch_write() as batch:
        for subscription in pending:
            batch.delete(SubscriptionModel(subscription.service_id, subscription.profile_id))
    return len(pending)
