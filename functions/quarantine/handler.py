"""Delivery feedback (SES events, inbound SMS) from the feedback queue into the quarantine.

Powertools' BatchProcessor reports each failed message (ReportBatchItemFailures): a
malformed message fails alone, goes back to the queue and, after the redrive policy's
receives, to the dead-letter queue; the rest of its batch is applied. A batch whose
every message failed is reported the same way rather than raised, so the function's
error alarm means the function broke, not that the queue held poison.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.addresses.counting import QuarantinePolicy
from consentry.core.clock import utc_now
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import get_settings
from quarantine.ingest import FeedbackIngest
from quarantine.outage import PendingAttempts
from quarantine.sms import ReplyTexts, SmsKeywords, TextSender

settings = get_settings()
bind_tables(settings)
policy = QuarantinePolicy.from_settings(settings)
texts = ReplyTexts(
    opt_out=settings.sms_opt_out_reply,
    opt_in=settings.sms_opt_in_reply,
    help=settings.sms_help_reply,
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
pending_attempts = PendingAttempts()
"""Outage-guard attempt counts, kept across invocations and written every so often."""


class _SmsClient:
    """The End User Messaging SMS client, made at the first reply (most batches send none)."""

    def __init__(self) -> None:
        self._client: Any = None

    def send_text_message(self, **kwargs: Any) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 (with the client: most batches send no text)

            self._client = boto3.client("pinpoint-sms-voice-v2", region_name=settings.aws_region)
        return self._client.send_text_message(**kwargs)


_sms_client = _SmsClient()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, sms: TextSender | None = None
) -> dict[str, Any]:
    """`sms` replaces the SMS client (tests pass a fake)."""
    keywords = SmsKeywords(
        sms or _sms_client,
        texts,
        origination_identity=settings.sms_origination_identity,
        clock=utc_now,
    )
    ingest = FeedbackIngest(
        policy,
        keywords,
        default_region=settings.default_phone_region,
        clock=utc_now,
        pending=pending_attempts,
    )
    response = process_partial_response(
        event=event, record_handler=ingest.handle, processor=processor, context=context
    )
    ingest.flush()
    return dict(response)


cold_start.loaded()
