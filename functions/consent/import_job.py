"""The import function: runs one bulk import that `POST /v1/imports` queued.

Invoked asynchronously with `{"importId": "..."}`; Lambda retries a run that raised,
and a retried run applies nothing twice (see consent.logic.import_run).
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from datetime import timedelta
from typing import Annotated, Any

import msgspec
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from consent.logic import import_run
from consent.logic.import_run import ImportRun
from consentry.core.bucket import DataBucket
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings

settings = get_settings()
bind_tables(settings)
bucket = DataBucket(settings.data_bucket, region=settings.aws_region)


class ImportJob(
    msgspec.Struct, rename="camel", frozen=True, kw_only=True, forbid_unknown_fields=True
):
    """What the operator API's start hands the function (`LambdaImportJobs.start`)."""

    import_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    job = msgspec.convert(event, ImportJob)
    record = import_run.run(
        job.import_id,
        ImportRun(
            bucket=bucket,
            default_region=settings.default_phone_region,
            smtputf8=settings.sender_smtputf8,
            time_left=lambda: timedelta(milliseconds=context.get_remaining_time_in_millis()),
        ),
    )
    metrics.add_metric(name="ImportRowsApplied", unit=MetricUnit.Count, value=record.counts.applied)
    metrics.add_metric(
        name="ImportRowsRejected", unit=MetricUnit.Count, value=record.counts.rejected
    )
    return {"importId": record.import_id, "status": record.status.value}


cold_start.loaded()
