"""Services and their subscribers: the operations behind /v1/services."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from consent.schemas import (
    ServiceIn,
    ServiceOut,
    ServicePatch,
    ServicesOut,
    SubscribersOut,
    SubscriptionIn,
    SubscriptionOut,
)
from consentry.consent import profile_store, service_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.subscriptions import Service, SubscriptionStatus
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import InvalidInputError, NotFoundError, StaleVersionError
from consentry.core.types import Action, ProfileId, ScopeKind, ServiceId, Source


def service_scope(service_id: ServiceId) -> Scope:
    return Scope(kind=ScopeKind.SERVICE, value=service_id)


def create(body: ServiceIn, *, clock: Clock = utc_now) -> dict[str, Any]:
    _check_validity(body.validity.start, body.validity.end)
    now = clock()
    service = Service(
        service_id=ServiceId(f"svc-{secrets.token_hex(6)}"),
        name=body.name,
        label=body.label,
        public_label=body.public_label,
        channel=body.channel,
        confirmation=body.confirmation,
        valid_from=body.validity.start,
        valid_until=body.validity.end,
        subscription_days=body.validity.subscription_days,
        created_at=now,
        updated_at=now,
    )
    stored = service_store.save_service(service, expected_version=None)
    return {"status": 201, "body": ServiceOut.of(stored).model_dump(mode="json", by_alias=True)}


def update(
    service_id: ServiceId, patch: ServicePatch, version: int | None, *, clock: Clock = utc_now
) -> dict[str, Any]:
    current = service_store.get_service(service_id)
    if version is not None and version != current.version:
        raise StaleVersionError(version, current.version)
    changes: dict[str, Any] = patch.model_dump(exclude_none=True, exclude={"validity"})
    if patch.validity is not None:
        changes |= {
            "valid_from": patch.validity.start,
            "valid_until": patch.validity.end,
            "subscription_days": patch.validity.subscription_days,
        }
    updated = current.model_copy(update={**changes, "updated_at": clock()})
    _check_validity(updated.valid_from, updated.valid_until)
    stored = service_store.save_service(updated, expected_version=current.version)
    return {"status": 200, "body": ServiceOut.of(stored).model_dump(mode="json", by_alias=True)}


def get(service_id: ServiceId) -> ServiceOut:
    return ServiceOut.of(service_store.get_service(service_id))


def list_all(limit: int, cursor: str | None) -> ServicesOut:
    page = service_store.list_services(limit, cursor)
    return ServicesOut(items=[ServiceOut.of(s) for s in page.items], next_cursor=page.cursor)


def subscribers(
    service_id: ServiceId, limit: int, cursor: str | None, status: SubscriptionStatus | None
) -> SubscribersOut:
    service_store.get_service(service_id)
    page = service_store.list_subscribers(service_id, limit, cursor, status)
    now = utc_now()
    return SubscribersOut(
        items=[SubscriptionOut.of(s, now) for s in page.items], next_cursor=page.cursor
    )


def put_subscription(
    service_id: ServiceId, profile_id: ProfileId, body: SubscriptionIn, actor: str
) -> dict[str, Any]:
    change = ConsentChange(
        scope=service_scope(service_id),
        action=Action.SUBSCRIBE,
        source=Source.OPERATOR,
        actor=actor,
        reason=body.reason,
        requested=SubscriptionStatus(body.status),
    )
    profile_store.record_change(profile_id, change)
    return {"status": 200, "body": _subscription_json(service_id, profile_id)}


def delete_subscription(
    service_id: ServiceId, profile_id: ProfileId, reason: str, actor: str
) -> dict[str, Any]:
    if service_store.find_subscription(service_id, profile_id) is None:
        raise NotFoundError("subscription", f"{service_id}/{profile_id}")
    change = ConsentChange(
        scope=service_scope(service_id),
        action=Action.UNSUBSCRIBE,
        source=Source.OPERATOR,
        actor=actor,
        reason=reason,
    )
    profile_store.record_change(profile_id, change)
    return {"status": 200, "body": _subscription_json(service_id, profile_id)}


def _subscription_json(service_id: ServiceId, profile_id: ProfileId) -> dict[str, Any]:
    subscription = service_store.find_subscription(service_id, profile_id)
    if subscription is None:
        raise NotFoundError("subscription", f"{service_id}/{profile_id}")
    return SubscriptionOut.of(subscription, utc_now()).model_dump(mode="json", by_alias=True)


def _check_validity(start: datetime | None, end: datetime | None) -> None:
    # A time without an offset is ambiguous, and comparing it with one that has an
    # offset raises TypeError: refuse it as the caller's input.
    for field, value in (("validity.start", start), ("validity.end", end)):
        if value is not None and value.utcoffset() is None:
            raise InvalidInputError(field, "needs a UTC offset, such as 2026-01-01T00:00:00Z")
    if start is not None and end is not None and end <= start:
        raise InvalidInputError("validity.end", "must be after validity.start")
