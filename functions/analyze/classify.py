"""Analysis step 3: classify one shard; write its exclusion log, and its target rows."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.handling import keeping_error, load_plan
from analyze.steps import classify_shard
from consentry.core.clock import utc_now
from consentry.core.observability import logger, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, int]:
    plan = load_plan(event["plan"])
    shard = int(event["shard"]["shard"])
    with keeping_error(plan, f"2-classify-{shard:05d}"):
        return classify_shard(plan, shard, utc_now)
