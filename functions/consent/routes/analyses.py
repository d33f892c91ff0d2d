"""/v1/deliveries/{deliveryId}/analysis: start a delivery's analysis, read it, explain a row."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    IDENTIFIER,
    ErrorOut,
    IdempotencyKey,
    idempotent_operation,
    not_found,
    respond_once,
)
from consent.logic import analyses
from consent.logic.analyses import AnalysisStarted, ExplainOut
from consentry.analysis.contract import AnalysisOptions, AnalysisRecord

router = APIGatewayRouter()
DeliveryIdPath = Annotated[
    str, Path(min_length=1, max_length=128, pattern=IDENTIFIER, description="The delivery's id")
]
CONFLICT: dict[int, OpenAPIResponse] = {
    409: {
        "description": "The delivery is being analyzed, or was (pass `force` to replace it)",
        "content": {"application/json": {"model": ErrorOut}},
    }
}


@router.post(
    "/v1/deliveries/<deliveryId>/analysis",
    summary="Start the analysis of a delivery's audience",
    tags=["analyses"],
    responses={
        202: {
            "description": "Started: follow it at GET .../analysis",
            "content": {"application/json": {"model": AnalysisStarted}},
        },
        **CONFLICT,
    },
)
def start_analysis(
    deliveryId: DeliveryIdPath, body: AnalysisOptions, idempotency_key: IdempotencyKey = None
) -> Response[str]:
    return respond_once(
        router.current_event,
        "start_analysis",
        idempotency_key,
        delivery_id=deliveryId,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get(
    "/v1/deliveries/<deliveryId>/analysis",
    summary="A delivery's analysis: status, counts per cause, target and exclusion log",
    tags=["analyses"],
    responses=not_found("analysis"),
)
def get_analysis(deliveryId: DeliveryIdPath) -> AnalysisRecord:
    return analyses.get(deliveryId)


@router.get(
    "/v1/deliveries/<deliveryId>/analysis/explain",
    summary="Why the audience rows with an address were excluded, or that they are targeted",
    tags=["analyses"],
    responses={**not_found("analysis or audience row"), **CONFLICT},
)
def explain_analysis(
    deliveryId: DeliveryIdPath,
    address: Annotated[str, Query(min_length=1, max_length=320, description="As in the audience")],
    profileId: Annotated[
        str | None,
        Query(max_length=128, description="Only the rows of this profile"),
    ] = None,
) -> ExplainOut:
    return analyses.explain(deliveryId, address, profileId)


@idempotent_operation("start_analysis")
def _start_analysis(delivery_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return analyses.start(delivery_id, AnalysisOptions.model_validate(body))
