"""/v1/deliveries/{deliveryId}/analysis: start a delivery's analysis, read it, explain a row."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import (
    DeliveryIdPath,
    IdempotencyKey,
    answers,
    dependencies,
    not_found,
    operator_identity,
)
from consent.logic import analyses
from consent.logic.analyses import StartAnalysis
from consent.schemas.analyses import AnalysisStarted, ExplainOut
from consentry.analysis.contract import AnalysisOptions, AnalysisRecord

router = APIGatewayRouter()
CONFLICT = {409: "The delivery is being analyzed, or was (pass `force` to replace it)"}


@router.post(
    "/v1/deliveries/<deliveryId>/analysis",
    summary="Start the analysis of a delivery's audience",
    tags=["analyses"],
    responses=answers(
        AnalysisStarted,
        status=202,
        description="Started: follow it at GET .../analysis",
        errors=CONFLICT,
    ),
)
def start_analysis(
    deliveryId: DeliveryIdPath, body: AnalysisOptions, idempotency_key: IdempotencyKey = None
) -> Response[AnalysisStarted]:
    wired = dependencies(router)
    state_machine = wired.settings.state_machine_arn
    if state_machine is None:
        raise RuntimeError("STATE_MACHINE_ARN is not set: this function cannot start analyses")
    started = analyses.start(
        command=StartAnalysis(
            actor=operator_identity(router.current_event),
            idempotency_key=idempotency_key,
            delivery_id=deliveryId,
            body=body,
        ),
        workflows=wired.workflows,
        state_machine_arn=state_machine,
        clock=wired.clock,
    )
    return Response(202, "application/json", started)


@router.get(
    "/v1/deliveries/<deliveryId>/analysis",
    summary="A delivery's analysis: status, counts per cause, target and exclusion log",
    tags=["analyses"],
    responses=answers(AnalysisRecord, errors=not_found("analysis")),
)
def get_analysis(deliveryId: DeliveryIdPath) -> AnalysisRecord:
    return analyses.get(deliveryId)


@router.get(
    "/v1/deliveries/<deliveryId>/analysis/explain",
    summary="Why the audience rows with an address were excluded, or that they are targeted",
    tags=["analyses"],
    responses=answers(ExplainOut, errors={**not_found("analysis or audience row"), **CONFLICT}),
)
def explain_analysis(
    deliveryId: DeliveryIdPath,
    address: Annotated[str, Query(min_length=1, max_length=320, description="As in the audience")],
    profileId: Annotated[
        str | None,
        Query(max_length=128, description="Only the rows of this profile"),
    ] = None,
) -> ExplainOut:
    return analyses.explain(deliveryId, address, profileId, dependencies(router).bucket)
