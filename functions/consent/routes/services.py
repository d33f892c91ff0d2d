"""/v1/services: services, their subscribers, and subscriptions."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    ProfileIdPath,
    ServiceIdPath,
    expected_version,
    idempotent_operation,
    not_found,
    respond_once,
)
from consent.logic import services
from consent.schemas import (
    ServiceIn,
    ServiceOut,
    ServicePatch,
    ServicesOut,
    SubscribersOut,
    SubscriptionIn,
)
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.types import ProfileId, ServiceId

router = APIGatewayRouter()
NOT_FOUND = not_found("service")
Reason = Annotated[str, Query(min_length=1, max_length=500, description="Why (kept in history)")]


@router.post("/v1/services", summary="Create a service", tags=["services"])
def create_service(body: ServiceIn, idempotency_key: IdempotencyKey = None) -> Response[str]:
    return respond_once(
        router.current_event,
        "create_service",
        idempotency_key,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get("/v1/services", summary="List services", tags=["services"])
def list_services(limit: Limit = 50, cursor: Cursor = None) -> ServicesOut:
    return services.list_all(limit, cursor)


@router.get(
    "/v1/services/<serviceId>", summary="One service", tags=["services"], responses=NOT_FOUND
)
def get_service(serviceId: ServiceIdPath) -> ServiceOut:
    return services.get(ServiceId(serviceId))


@router.patch(
    "/v1/services/<serviceId>",
    summary="Change a service (If-Match: version)",
    tags=["services"],
    responses=NOT_FOUND,
)
def patch_service(
    serviceId: ServiceIdPath,
    body: ServicePatch,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "patch_service",
        idempotency_key,
        service_id=serviceId,
        patch=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        version=expected_version(if_match),
    )


@router.get(
    "/v1/services/<serviceId>/subscribers",
    summary="A service's subscribers",
    tags=["services"],
    responses=NOT_FOUND,
)
def list_subscribers(
    serviceId: ServiceIdPath,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[SubscriptionStatus | None, Query()] = None,
) -> SubscribersOut:
    return services.subscribers(ServiceId(serviceId), limit, cursor, status)


@router.put(
    "/v1/services/<serviceId>/subscriptions/<profileId>",
    summary="Subscribe a profile",
    tags=["services"],
    responses=NOT_FOUND,
)
def put_subscription(
    serviceId: ServiceIdPath,
    profileId: ProfileIdPath,
    body: SubscriptionIn,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "put_subscription",
        idempotency_key,
        actor=True,
        service_id=serviceId,
        profile_id=profileId,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.delete(
    "/v1/services/<serviceId>/subscriptions/<profileId>",
    summary="Unsubscribe a profile",
    tags=["services"],
    responses=NOT_FOUND,
)
def delete_subscription(
    serviceId: ServiceIdPath,
    profileId: ProfileIdPath,
    reason: Reason,
    idempotency_key: IdempotencyKey = None,
) -> Response[str]:
    return respond_once(
        router.current_event,
        "delete_subscription",
        idempotency_key,
        actor=True,
        service_id=serviceId,
        profile_id=profileId,
        reason=reason,
    )


@idempotent_operation("create_service")
def _create(body: dict[str, Any]) -> dict[str, Any]:
    return services.create(ServiceIn.model_validate(body))


@idempotent_operation("patch_service")
def _patch(service_id: str, patch: dict[str, Any], version: int | None) -> dict[str, Any]:
    return services.update(ServiceId(service_id), ServicePatch.model_validate(patch), version)


@idempotent_operation("put_subscription")
def _subscribe(
    service_id: str, profile_id: str, body: dict[str, Any], actor: str
) -> dict[str, Any]:
    return services.put_subscription(
        ServiceId(service_id), ProfileId(profile_id), SubscriptionIn.model_validate(body), actor
    )


@idempotent_operation("delete_subscription")
def _unsubscribe(service_id: str, profile_id: str, reason: str, actor: str) -> dict[str, Any]:
    return services.delete_subscription(ServiceId(service_id), ProfileId(profile_id), reason, actor)
