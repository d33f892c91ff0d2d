"""The operator API under /v1: routes, one call each. IAM-authorized on AWS."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from consentry import store
from consentry.errors import (
    ConflictError,
    ConsentryError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
    StoreUnavailableError,
)
from consentry.models import bind_models
from consentry.observability import logger, metrics, tracer
from consentry.settings import get_settings
from consentry.types import ProfileId

from consent.schemas import ConsentOut, ErrorOut

LATEST_EVENTS = 10
ProfileIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@+\-]+$")]

bind_models(get_settings())
app = APIGatewayRestResolver(enable_validation=True)


@app.get(
    "/v1/profiles/<profileId>/consent",
    summary="A profile's consent state and its latest events",
    responses={
        200: {"description": "The consent state"},
        404: {
            "description": "No consent is recorded for this profile",
            "content": {"application/json": {"model": ErrorOut}},
        },
    },
)
def get_consent(profileId: ProfileIdPath) -> ConsentOut:
    profile_id = ProfileId(profileId)
    state = store.get_consent(profile_id)
    return ConsentOut.of(state, store.latest_events(profile_id, LATEST_EVENTS))


_STATUS_OF: tuple[tuple[type[ConsentryError], HTTPStatus], ...] = (
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (InvalidInputError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (StaleVersionError, HTTPStatus.PRECONDITION_FAILED),
    (ConflictError, HTTPStatus.CONFLICT),
    (StoreUnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
)


@app.exception_handler([error for error, _ in _STATUS_OF])
def _domain_error(error: ConsentryError) -> Response[str]:
    status = next(status for kind, status in _STATUS_OF if isinstance(error, kind))
    if status is HTTPStatus.SERVICE_UNAVAILABLE:
        logger.exception("consent store unavailable")
    body = ErrorOut(
        status_code=status.value,
        message=str(error),
        field=error.field if isinstance(error, InvalidInputError) else None,
    )
    return Response(
        status_code=status.value,
        content_type="application/json",
        body=body.model_dump_json(by_alias=True, exclude_none=True),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
