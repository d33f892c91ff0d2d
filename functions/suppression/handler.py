"""Keeps SES's account-level suppression list in step with the address quarantine, from
the address-events stream (the same changes the event bus publishes).

Records are applied in stream order; at the first call SES refuses (throttling, an
outage) the handler stops and reports that record (Lambda's partial batch response),
so the shard resumes there. Removing an address SES does not hold is done already.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from consentry.core import clients
from consentry.core.observability import logger, mask_address, metrics, tracer
from consentry.core.settings import get_settings
from consentry.events.ses_suppression import Operation, suppression_request


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], _context: LambdaContext, ses: Any = None
) -> dict[str, Any]:
    """`ses` replaces the SESv2 client (tests pass a stubbed one)."""
    client = ses or clients.client("sesv2", get_settings().aws_region)
    for record in DynamoDBStreamEvent(event).records:
        request = suppression_request(record.raw_event)
        if request is None:
            continue
        operation, parameters = request.call()
        try:
            getattr(client, operation)(**parameters)
        except ClientError as error:
            missing = error.response.get("Error", {}).get("Code") == "NotFoundException"
            if request.operation is Operation.DELETE and missing:
                continue
            return _stopped_at(record.dynamodb, request.email_address, error)
        except BotoCoreError as error:
            return _stopped_at(record.dynamodb, request.email_address, error)
    return {"batchItemFailures": []}


def _stopped_at(stream: Any, address: str, error: Exception) -> dict[str, Any]:
    logger.warning(
        "SES suppression list not updated; the shard resumes here",
        extra={"address": mask_address(address), "error": type(error).__name__},
    )
    return {"batchItemFailures": [{"itemIdentifier": stream.sequence_number}]}


cold_start.loaded()
