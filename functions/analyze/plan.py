"""Analysis step 1: validate the request, claim the delivery, plan shards and chunks,
read the suppression data (analyze.planning)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.planning import plan_run
from consentry.core.clock import utc_now
from consentry.core.observability import logger, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    return plan_run(
        event.get("request"),
        execution_arn=event["executionArn"],
        map_concurrency=int(event["mapConcurrency"]),
        settings=get_settings(),
        now=utc_now(),
    )
