"""Delivery feedback into the address quarantine: one queue message at a time.

Each piece of feedback is applied to its address under the counting rules
(consentry.addresses.counting), with its event, in one transaction whose event condition makes
a redelivery change nothing (consentry.addresses.events). What is written:

| feedback | address | event |
|---|---|---|
| hard or soft bounce | its outcome, and the health the rules give | always (history, idempotency) |
| bounce held by the outage guard | no | always, with `held_domain` |
| ignored bounce (message too large, content) | no | no |
| complaint (not `not-spam`) | adds the complaint origin | always |
| delivery | its outcome, and the health the rules give | when it resets a counter |

E-mail deliveries are also added to the daily counts of their recipient and sending
domains (consentry.reporting), once each, so that the console can show complaint and
bounce rates; the other counts come from the event tables' streams.

Bounces and deliveries are kept on the address as dated outcomes, once each, and the
health is the rules replayed over them in time order (consentry.addresses.counting):
feedback that arrives late or twice gives the state it would have given in order. A
delivery is kept even when it changes nothing yet, since a bounce dated before it may
still arrive; repeating it changes nothing.

A recipient that is not an address is counted (`FeedbackRecipientsMalformed`) and
logged without what it held; the message's other recipients are applied. Only a
message from which nothing at all can be applied goes back to the queue (and, in the
end, to the dead-letter queue).
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from consentry.addresses import address_store, history_store
from consentry.addresses.counting import (
    QuarantinePolicy,
    error_snapshot,
    occurrence_of,
    record,
)
from consentry.addresses.decisions import current_state
from consentry.addresses.events import FEEDBACK_ACTOR, PROCESSED_AT, AddressEvent, event_id
from consentry.addresses.feedback import (
    AddressFeedback,
    FeedbackKind,
    InboundSms,
    MalformedFeedbackError,
    MalformedRecipient,
    Parsed,
    parse_body,
)
from consentry.addresses.reasons import ErrorType
from consentry.addresses.status import (
    COMPLAINT_ORIGIN,
    AddressState,
    same_decision,
    with_origin,
)
from consentry.core.clock import Clock
from consentry.core.errors import StoreUnavailableError
from consentry.core.observability import logger, metrics
from consentry.core.persistence import optimistically
from consentry.core.types import Channel
from consentry.reporting import counter_store
from consentry.reporting.cells import delivery_tally
from quarantine.outage import OutageGuard, PendingAttempts
from quarantine.sms import SmsKeywords


class FeedbackIngest:
    """Applies the feedback of one batch; `flush` once the batch is done.

    `pending` keeps attempt counts across batches (the handler passes one per process)."""

    def __init__(
        self,
        policy: QuarantinePolicy,
        keywords: SmsKeywords,
        *,
        default_region: str,
        clock: Clock,
        pending: PendingAttempts | None = None,
    ) -> None:
        self._policy = policy
        self._keywords = keywords
        self._region = default_region
        self._clock = clock
        self._guard = OutageGuard(policy, clock, pending)

    def handle(self, record: SQSRecord) -> None:
        """Apply one queue message; raise to leave it on the queue (and, in the end, the DLQ)."""
        try:
            items = parse_body(
                record.body, received_at=self._sent_at(record), default_region=self._region
            )
        except MalformedFeedbackError as error:
            logger.warning(
                "malformed feedback", extra={"sqs_message_id": record.message_id, "why": str(error)}
            )
            raise
        malformed = [item for item in items if isinstance(item, MalformedRecipient)]
        if malformed:
            metrics.add_metric(
                name="FeedbackRecipientsMalformed", unit=MetricUnit.Count, value=len(malformed)
            )
            logger.warning(
                "feedback recipients that are not addresses were skipped",
                extra={
                    "sqs_message_id": record.message_id,
                    "ses_message_id": malformed[0].message_id,
                    "kind": malformed[0].kind.value,
                    "skipped": len(malformed),
                    "applicable": len(items) - len(malformed),
                },
            )
            if len(malformed) == len(items):
                raise MalformedFeedbackError("no recipient of the notification is an address")
        for item in items:
            if isinstance(item, InboundSms):
                self._keywords.handle(item)
            elif isinstance(item, AddressFeedback):
                self._apply(item)
        self._count_deliveries(items)

    def _count_deliveries(self, items: list[Parsed]) -> None:
        """Add the message's e-mail deliveries to the daily counts (a delivery writes no
        event, so the streams never see it). A failure fails the message: its redelivery
        applies nothing twice and counts what was not counted."""
        deliveries = [
            delivery_tally(item.address, item.at, item.key, item.detail.get("sender_domain"))
            for item in items
            if isinstance(item, AddressFeedback)
            and item.kind is FeedbackKind.DELIVERY
            and item.channel is Channel.EMAIL
        ]
        if deliveries:
            counter_store.add(deliveries, self._clock())

    def flush(self) -> None:
        """Write the attempt counts when due. They are statistics for the outage guard:
        losing them must not fail (and so redeliver) a batch that was applied."""
        try:
            self._guard.flush()
        except StoreUnavailableError:
            logger.exception("outage-guard attempt counts of this batch were not written")

    def _apply(self, feedback: AddressFeedback) -> None:
        failure = (
            feedback.kind is FeedbackKind.BOUNCE and feedback.error_type is not ErrorType.IGNORED
        )
        if feedback.channel is Channel.EMAIL and not failure:
            self._guard.count_attempt(feedback)
        if feedback.kind is FeedbackKind.BOUNCE and not failure:
            return
        written = optimistically(
            lambda: self._write(
                current_state(feedback.channel, feedback.address), feedback, failure=failure
            ),
            "the address",
        )
        if written and failure and feedback.channel is Channel.EMAIL:
            self._guard.count_failure(feedback)

    def _write(self, current: AddressState, feedback: AddressFeedback, *, failure: bool) -> bool:
        """Write the feedback's effect and event; False when there was nothing to write
        or it was written before (a redelivery)."""
        held = None
        if failure and feedback.channel is Channel.EMAIL:
            held = self._guard.hold_key(feedback)
        updated = current if held else self._rules(current, feedback)
        changed = not same_decision(updated, current)
        if feedback.kind is FeedbackKind.DELIVERY and not changed:
            if updated == current:
                return False  # known already
            address_store.save(current, updated)  # kept for the counting; no history
            return True
        # When it was processed: the outage window counts it then, whenever it happened.
        detail = {**feedback.detail, "changed": changed, PROCESSED_AT: self._clock()}
        if changed and failure:
            detail["before"] = error_snapshot(current)
        event = AddressEvent(
            channel=feedback.channel,
            address=feedback.address,
            event_id=event_id(feedback.at, feedback.key),
            at=feedback.at,
            kind=feedback.kind.value,
            error_type=feedback.error_type.value if feedback.error_type else None,
            reason=feedback.reason.value if feedback.reason else None,
            message_id=feedback.message_id,
            actor=FEEDBACK_ACTOR,
            detail=detail,
            held_domain=held,
        )
        if held is None:
            return history_store.record(current, updated, event)
        written = history_store.add_held(current, event)
        if written:
            metrics.add_metric(name="FeedbackHeld", unit=MetricUnit.Count, value=1)
        return written

    def _rules(self, state: AddressState, feedback: AddressFeedback) -> AddressState:
        if feedback.kind is FeedbackKind.COMPLAINT:
            return with_origin(state, COMPLAINT_ORIGIN, feedback.at)
        if feedback.kind is FeedbackKind.BOUNCE and feedback.error_type is None:
            raise MalformedFeedbackError("a bounce without its error type")
        occurrence = occurrence_of(feedback.error_type, feedback.reason, feedback.at, feedback.key)
        return record(state, occurrence, self._policy) if occurrence else state

    def _sent_at(self, record: SQSRecord) -> datetime:
        """When SQS received the message (dates inbound texts, which carry no time)."""
        sent = record.raw_event.get("attributes", {}).get("SentTimestamp")
        if isinstance(sent, str) and sent.isdigit():
            return datetime.fromtimestamp(int(sent) / 1000, UTC)
        return self._clock()
