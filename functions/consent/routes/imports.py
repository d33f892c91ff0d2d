"""/v1/imports: bulk imports of consent flags and address statuses from a CSV in S3."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    JSON,
    IdempotencyKey,
    answers,
    dependencies,
    not_found,
    operator_identity,
)
from consent.logic import imports
from consent.logic.imports import LambdaImportJobs, StartImport
from consent.schemas.imports import ImportIn, ImportOut
from consentry.core.types import IDENTIFIER_PATTERN

router = APIGatewayRouter()
ImportIdPath = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="The import's id"),
]


@router.post(
    "/v1/imports",
    summary="Import a CSV of profiles or addresses from the data bucket",
    tags=["imports"],
    responses={
        **answers(ImportOut, description="This file was imported before: that import"),
        **answers(ImportOut, status=202, description="Queued: follow it at /v1/imports/{importId}"),
    },
)
def post_import(body: ImportIn, idempotency_key: IdempotencyKey = None) -> Response[ImportOut]:
    wired = dependencies(router)
    function_name = wired.settings.import_function_name
    if function_name is None:
        raise RuntimeError("IMPORT_FUNCTION_NAME is not set: this function cannot start imports")
    started = imports.start(
        command=StartImport(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            body=body,
        ),
        bucket=wired.bucket,
        jobs=LambdaImportJobs(wired.functions, function_name),
        clock=wired.clock,
    )
    answer = ImportOut.model_validate(started.model_dump(exclude={"created"}))
    return Response(202 if started.created else 200, JSON, answer)


@router.get(
    "/v1/imports/<importId>",
    summary="An import's status, counts and report",
    tags=["imports"],
    responses=answers(ImportOut, errors=not_found("import")),
)
def get_import(importId: ImportIdPath) -> ImportOut:
    return imports.get(importId)
