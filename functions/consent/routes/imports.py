"""/v1/imports: bulk imports of consent flags and address statuses from a CSV in S3."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    IDENTIFIER,
    IdempotencyKey,
    idempotent_operation,
    not_found,
    respond_once,
)
from consent.logic import imports
from consent.schemas import ImportIn, ImportOut

router = APIGatewayRouter()
ImportIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=IDENTIFIER, description="The import's id")
]


@router.post(
    "/v1/imports",
    summary="Import a CSV of profiles or addresses from the data bucket",
    tags=["imports"],
    responses={
        200: {
            "description": "This file was imported before: that import",
            "content": {"application/json": {"model": ImportOut}},
        },
        202: {
            "description": "Queued: follow it at /v1/imports/{importId}",
            "content": {"application/json": {"model": ImportOut}},
        },
    },
)
def post_import(body: ImportIn, idempotency_key: IdempotencyKey = None) -> Response[str]:
    return respond_once(
        router.current_event,
        "start_import",
        idempotency_key,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get(
    "/v1/imports/<importId>",
    summary="An import's status, counts and report",
    tags=["imports"],
    responses=not_found("import"),
)
def get_import(importId: ImportIdPath) -> ImportOut:
    return imports.get(importId)


@idempotent_operation("start_import")
def _start_import(body: dict[str, Any]) -> dict[str, Any]:
    return imports.start(ImportIn.model_validate(body))
