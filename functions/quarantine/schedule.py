"""Daily: the resets and releases that fell due under the counting rules."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.addresses.counting import QuarantinePolicy
from consentry.core.clock import utc_now
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings
from quarantine.release import run_due

settings = get_settings()
bind_tables(settings)
policy = QuarantinePolicy.from_settings(settings)
SAFETY_MARGIN_MS = 30_000
"""Stop taking new pages when less than this is left of the function's time."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(_event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = run_due(
        utc_now(),
        policy,
        out_of_time=lambda: context.get_remaining_time_in_millis() < SAFETY_MARGIN_MS,
    )
    metrics.add_metric(name="AddressCountersReset", unit=MetricUnit.Count, value=run.reset)
    metrics.add_metric(name="QuarantinesReleased", unit=MetricUnit.Count, value=run.released)
    outcome = asdict(run)
    logger.info("quarantine due run", extra=outcome)
    return outcome


cold_start.loaded()
