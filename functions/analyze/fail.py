"""Analysis failure path: record why the execution failed, remove the run's objects, and
hand the Fail state its error and cause."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.outcome import record_failure
from consentry.core.clock import utc_now
from consentry.core.observability import logger, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, str]:
    return record_failure(
        event.get("state") or {}, event["executionArn"], get_settings().data_bucket, utc_now()
    )
