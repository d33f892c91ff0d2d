"""Analysis step 2: split one chunk of the audience into shards by address hash."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.handling import keeping_error, load_plan
from analyze.steps import partition_chunk
from consentry.core.clock import utc_now
from consentry.core.observability import logger, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, int]:
    plan = load_plan(event["plan"])
    chunk = int(event["chunk"]["chunk"])
    with keeping_error(plan, f"1-partition-{chunk:05d}"):
        return partition_chunk(plan, chunk, utc_now())
