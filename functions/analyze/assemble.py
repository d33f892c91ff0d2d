"""Analysis step 4 (more than one shard): write one chunk's target part in audience order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.handling import keeping_error, load_plan
from analyze.steps import assemble_chunk
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
    with keeping_error(plan, f"3-assemble-{chunk:05d}"):
        return assemble_chunk(plan, chunk, utc_now())
