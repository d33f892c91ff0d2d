"""Analysis step 5: add the shards' counts into the analysis record and mark it done;
the record is the execution's output."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.handling import load_plan
from analyze.outcome import summarize
from consentry.core.clock import utc_now
from consentry.core.observability import logger, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    return summarize(load_plan(event["plan"]), utc_now())
