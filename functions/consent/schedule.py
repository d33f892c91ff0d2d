"""Daily: unsubscribe the subscribers of services whose validity has ended."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from consent.logic.validity import IncompleteRunError, end_ended_services
from consentry.core.clock import utc_now
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

bind_tables(get_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, int]:
    run = end_ended_services(clock=utc_now)
    metrics.add_metric(name="EndedServices", unit=MetricUnit.Count, value=run.services)
    metrics.add_metric(name="ServiceUnsubscriptions", unit=MetricUnit.Count, value=run.unsubscribed)
    metrics.add_metric(
        name="ServiceUnsubscriptionFailures", unit=MetricUnit.Count, value=run.failed
    )
    logger.info("service validity run", extra=asdict(run))
    if run.failed:
        raise IncompleteRunError(f"{run.failed} subscriptions not ended; the next run retries them")
    return {"services": run.services, "unsubscribed": run.unsubscribed}


cold_start.loaded()
