"""/v1/services: services, their subscribers, and subscriptions."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    JSON,
    PRECONDITION_FAILED,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    ProfileIdPath,
    ServiceIdPath,
    answers,
    dependencies,
    etag,
    expected_version,
    not_found,
    operator_identity,
    received_at,
)
from consent.logic import services
from consent.logic.services import ChangeService, CreateService, Subscribe, Unsubscribe
from consent.schemas.fields import MAX_REASON
from consent.schemas.services import (
    ServiceIn,
    ServiceOut,
    ServicePatch,
    ServicesOut,
    SubscribersOut,
    SubscriptionIn,
    SubscriptionOut,
)
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.core.types import ProfileId, ServiceId

router = APIGatewayRouter()
NOT_FOUND = not_found("service")
ReasonQuery = Annotated[
    str, Query(min_length=1, max_length=MAX_REASON, description="Why (kept in the history)")
]


@router.post(
    "/v1/services",
    summary="Create a service",
    tags=["services"],
    responses=answers(ServiceOut, status=201, description="Created"),
)
def create_service(body: ServiceIn, idempotency_key: IdempotencyKey = None) -> Response[ServiceOut]:
    created = services.create(
        command=CreateService(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            body=body,
        ),
        clock=dependencies(router).clock,
    )
    return Response(201, JSON, created, headers=etag(created.version))


@router.get(
    "/v1/services", summary="List services", tags=["services"], responses=answers(ServicesOut)
)
def list_services(limit: Limit = 50, cursor: Cursor = None) -> ServicesOut:
    return services.list_all(limit, cursor)


@router.get(
    "/v1/services/<serviceId>",
    summary="One service",
    tags=["services"],
    responses=answers(ServiceOut, errors=NOT_FOUND),
)
def get_service(serviceId: ServiceIdPath) -> ServiceOut:
    return services.get(ServiceId(serviceId))


@router.patch(
    "/v1/services/<serviceId>",
    summary="Change a service (If-Match: version)",
    tags=["services"],
    responses=answers(ServiceOut, errors={**NOT_FOUND, **PRECONDITION_FAILED}),
)
def patch_service(
    serviceId: ServiceIdPath,
    body: ServicePatch,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response[ServiceOut]:
    updated = services.update(
        command=ChangeService(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            service_id=ServiceId(serviceId),
            patch=body,
            expected_version=expected_version(if_match),
        ),
        clock=dependencies(router).clock,
    )
    return Response(200, JSON, updated, headers=etag(updated.version))


@router.get(
    "/v1/services/<serviceId>/subscribers",
    summary="A service's subscribers",
    tags=["services"],
    responses=answers(SubscribersOut, errors=NOT_FOUND),
)
def list_subscribers(
    serviceId: ServiceIdPath,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[SubscriptionStatus | None, Query()] = None,
) -> SubscribersOut:
    return services.subscribers(
        ServiceId(serviceId), limit, cursor, status, dependencies(router).clock
    )


@router.put(
    "/v1/services/<serviceId>/subscriptions/<profileId>",
    summary="Subscribe a profile",
    tags=["services"],
    responses=answers(SubscriptionOut, errors=NOT_FOUND),
)
def put_subscription(
    serviceId: ServiceIdPath,
    profileId: ProfileIdPath,
    body: SubscriptionIn,
    idempotency_key: IdempotencyKey = None,
) -> SubscriptionOut:
    return services.subscribe(
        command=Subscribe(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            service_id=ServiceId(serviceId),
            profile_id=ProfileId(profileId),
            body=body,
        ),
        clock=dependencies(router).clock,
        requested_at=received_at(router.current_event),
    )


@router.delete(
    "/v1/services/<serviceId>/subscriptions/<profileId>",
    summary="Unsubscribe a profile",
    tags=["services"],
    responses=answers(SubscriptionOut, errors=not_found("service or subscription")),
)
def delete_subscription(
    serviceId: ServiceIdPath,
    profileId: ProfileIdPath,
    reason: ReasonQuery,
    idempotency_key: IdempotencyKey = None,
) -> SubscriptionOut:
    return services.unsubscribe(
        command=Unsubscribe(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            service_id=ServiceId(serviceId),
            profile_id=ProfileId(profileId),
            reason=reason,
        ),
        clock=dependencies(router).clock,
        requested_at=received_at(router.current_event),
    )
