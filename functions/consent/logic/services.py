"""Services and their subscribers: the operations behind /v1/services."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from consent.commands import Command, idempotent
from consent.schemas.services import (
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
from consentry.core.clock import Clock
from consentry.core.errors import InvalidInputError, NotFoundError, StaleVersionError
from consentry.core.types import Action, ProfileId, ServiceId, Source


class CreateService(Command):
    body: ServiceIn


class ChangeService(Command):
    service_id: ServiceId
    patch: ServicePatch
    expected_version: int | None = None


class Subscribe(Command):
    service_id: ServiceId
    profile_id: ProfileId
    body: SubscriptionIn


class Unsubscribe(Command):
    service_id: ServiceId
    profile_id: ProfileId
    reason: str


@idempotent
def create(*, command: CreateService, clock: Clock) -> ServiceOut:
    body = command.body
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
    return ServiceOut.of(service_store.save_service(service, expected_version=None))


@idempotent
def update(*, command: ChangeService, clock: Clock) -> ServiceOut:
    current = service_store.get_service(command.service_id)
    version = command.expected_version
    if version is not None and version != current.version:
        raise StaleVersionError(version, current.version)
    patch = command.patch
    changes: dict[str, Any] = patch.model_dump(exclude_none=True, exclude={"validity"})
    if patch.validity is not None:
        changes |= {
            "valid_from": patch.validity.start,
            "valid_until": patch.validity.end,
            "subscription_days": patch.validity.subscription_days,
        }
    updated = replace(current, **changes, updated_at=clock())
    _check_validity(updated.valid_from, updated.valid_until)
    return ServiceOut.of(service_store.save_service(updated, expected_version=current.version))


def get(service_id: ServiceId) -> ServiceOut:
    return ServiceOut.of(service_store.get_service(service_id))


def list_all(limit: int, cursor: str | None) -> ServicesOut:
    page = service_store.list_services(limit, cursor)
    return ServicesOut(items=[ServiceOut.of(s) for s in page.items], next_cursor=page.cursor)


def subscribers(
    service_id: ServiceId,
    limit: int,
    cursor: str | None,
    status: SubscriptionStatus | None,
    clock: Clock,
) -> SubscribersOut:
    service_store.get_service(service_id)
    page = service_store.list_subscribers(service_id, limit, cursor, status)
    now = clock()
    return SubscribersOut(
        items=[SubscriptionOut.of(s, now) for s in page.items], next_cursor=page.cursor
    )


@idempotent
def subscribe(
    *, command: Subscribe, clock: Clock, requested_at: datetime | None = None
) -> SubscriptionOut:
    change = ConsentChange(
        scope=Scope.service(command.service_id),
        action=Action.SUBSCRIBE,
        source=Source.OPERATOR,
        actor=command.actor,
        reason=command.body.reason,
        requested=SubscriptionStatus(command.body.status),
        requested_at=requested_at,
    )
    profile_store.record_change(command.profile_id, change, clock=clock)
    return _subscription(command.service_id, command.profile_id, clock)


@idempotent
def unsubscribe(
    *, command: Unsubscribe, clock: Clock, requested_at: datetime | None = None
) -> SubscriptionOut:
    if service_store.find_subscription(command.service_id, command.profile_id) is None:
        raise NotFoundError("subscription", f"{command.service_id}/{command.profile_id}")
    change = ConsentChange(
        scope=Scope.service(command.service_id),
        action=Action.UNSUBSCRIBE,
        source=Source.OPERATOR,
        actor=command.actor,
        reason=command.reason,
        requested_at=requested_at,
    )
    profile_store.record_change(command.profile_id, change, clock=clock)
    return _subscription(command.service_id, command.profile_id, clock)


def _subscription(service_id: ServiceId, profile_id: ProfileId, clock: Clock) -> SubscriptionOut:
    subscription = service_store.find_subscription(service_id, profile_id)
    if subscription is None:
        raise NotFoundError("subscription", f"{service_id}/{profile_id}")
    return SubscriptionOut.of(subscription, clock())


def _check_validity(start: datetime | None, end: datetime | None) -> None:
    # A time without an offset is ambiguous, and comparing it with one that has an
    # offset raises TypeError: refuse it as the caller's input.
    for field, value in (("validity.start", start), ("validity.end", end)):
        if value is not None and value.utcoffset() is None:
            raise InvalidInputError(field, "needs a UTC offset, such as 2026-01-01T00:00:00Z")
    if start is not None and end is not None and end <= start:
        raise InvalidInputError("validity.end", "must be after validity.start")
