"""The feedback path as it runs on AWS, on moto: an SES notification (or an inbound SMS)
is published to the feedback topic, SNS delivers it to the queue, and Lambda's SQS
event source is played here: receive up to 10 messages, call the quarantine handler
with Lambda's SQS event, delete what succeeded, and make the reported failures
visible again, so the queue's redrive policy moves a poison message to the
dead-letter queue after its receives. Queue and subscription settings come from
template.yaml.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from consentry.addresses.address_store import to_state
from consentry.addresses.events import AddressEvent
from consentry.addresses.history_store import to_event
from consentry.addresses.status import AddressState
from consentry.addresses.tables import AddressEventModel, AddressModel
from tests.conftest import REGION, TEMPLATE
from tests.integration.conftest import lambda_context

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from quarantine.sms import TextSender

EVENTS = Path(__file__).resolve().parents[1] / "events"
RESOURCES = TEMPLATE["Resources"]
QUEUE = RESOURCES["FeedbackQueue"]["Properties"]
DLQ = RESOURCES["FeedbackDeadLetterQueue"]["Properties"]
SUBSCRIPTION = RESOURCES["FeedbackSubscription"]["Properties"]
SOURCE = RESOURCES["QuarantineFunction"]["Properties"]["Events"]["Feedback"]["Properties"]

_RECIPIENTS = {
    "Bounce": ("bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complainedRecipients"),
    "Delivery": ("delivery", "recipients"),
}


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ses(
    name: str,
    *,
    recipients: Iterable[str] | None = None,
    message_id: str | None = None,
    at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The notification in tests/events/ses_<name>.json, for other recipients, another
    message id or another time if asked, with `extra` top-level fields added."""
    document: dict[str, Any] = deepcopy(json.loads((EVENTS / f"ses_{name}.json").read_text()))
    kind = document.get("notificationType") or document["eventType"]
    section, field = _RECIPIENTS.get(kind, (None, None))
    if recipients is not None and section:
        listed = document[section][field]
        if field == "recipients":
            document[section][field] = list(recipients)
        else:
            template = listed[0]
            document[section][field] = [{**template, "emailAddress": r} for r in recipients]
        document["mail"]["destination"] = list(recipients)
    if message_id is not None:
        document["mail"]["messageId"] = message_id
    if at is not None:
        document["mail"]["timestamp"] = iso(at)
        if section:
            document[section]["timestamp"] = iso(at)
    document.update(extra)
    return document


def sms(name: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"sms_{name}.json").read_text())
    document.update(changes)
    return document


class FakeSms:
    """Stands in for the `pinpoint-sms-voice-v2` client; records every text sent."""

    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self._fail_times = fail_times

    def send_text_message(self, **kwargs: Any) -> dict[str, str]:
        if self._fail_times:
            self._fail_times -= 1
            raise ConnectionError("SMS API unreachable")
        self.sent.append(kwargs)
        return {"MessageId": f"sms-{len(self.sent)}"}


class FeedbackPath:
    def __init__(self, *, raw: bool = False) -> None:
        from quarantine import handler

        handler.pending_attempts.clear()  # counts of an earlier test's function
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = self.sqs.create_queue(
            QueueName="feedback-dlq",
            Attributes={"MessageRetentionPeriod": str(DLQ["MessageRetentionPeriod"])},
        )["QueueUrl"]
        self.dlq_url = dlq_url
        dlq_arn = self._arn(dlq_url)
        redrive = QUEUE["RedrivePolicy"]
        self.queue_url = self.sqs.create_queue(
            QueueName="feedback",
            Attributes={
                "VisibilityTimeout": str(QUEUE["VisibilityTimeout"]),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": redrive["maxReceiveCount"]}
                ),
            },
        )["QueueUrl"]
        self.queue_arn = self._arn(self.queue_url)
        self.topic_arn = self.sns.create_topic(Name="feedback")["TopicArn"]
        raw_delivery = raw or SUBSCRIPTION["RawMessageDelivery"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": str(raw_delivery).lower()},
        )
        self.batch_size = SOURCE["BatchSize"]
        self.responses: list[dict[str, Any]] = []

    def _arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def publish(self, *messages: str | dict[str, Any]) -> None:
        for message in messages:
            body = message if isinstance(message, str) else json.dumps(message)
            self.sns.publish(TopicArn=self.topic_arn, Message=body)

    def receive(self) -> list[MessageTypeDef]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def sqs_event(self, messages: list[MessageTypeDef]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }

    def invoke(self, event: dict[str, Any], sms: TextSender | None = None) -> dict[str, Any]:
        from quarantine.handler import lambda_handler

        response: dict[str, Any] = lambda_handler(
            event, lambda_context("quarantine"), sms=sms or FakeSms()
        )
        self.responses.append(response)
        return response

    def deliver(self, sms: TextSender | None = None) -> dict[str, Any] | None:
        """One batch, as Lambda's event source mapping runs it; the SQS event, or None."""
        messages = self.receive()
        if not messages:
            return None
        event = self.sqs_event(messages)
        response = self.invoke(event, sms)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
            else:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return event

    def drain(self, sms: TextSender | None = None, max_batches: int = 1000) -> list[dict[str, Any]]:
        """Deliver until the queue is empty; the SQS events that were delivered."""
        events: list[dict[str, Any]] = []
        for _ in range(max_batches):
            event = self.deliver(sms)
            if event is None:
                return events
            events.append(event)
        raise AssertionError("the queue did not drain")

    def dead_letters(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [m["Body"] for m in messages]


def address_states() -> dict[tuple[str, str], AddressState]:
    return {(s.channel.value, s.address): s for s in map(to_state, AddressModel.scan())}


def address_events() -> list[AddressEvent]:
    return sorted(
        (to_event(item) for item in AddressEventModel.scan()),
        key=lambda e: (e.channel, e.address, e.event_id),
    )


def snapshot() -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]]]:
    """Everything the feedback path writes about addresses (counters excluded)."""
    return (
        {k: asdict(v) for k, v in address_states().items()},
        [asdict(e) for e in address_events()],
    )


def metric_total(
    output: str, namespace: str, name: str, dimensions: list[dict[str, str]] | None = None
) -> float:
    """The sum of a metric over the EMF documents Powertools printed; with `dimensions`
    (an alarm's), only where it has exactly those: a metric of other dimensions is
    another metric to CloudWatch, which that alarm does not see."""
    wanted = {d["Name"]: d["Value"] for d in dimensions} if dimensions is not None else None

    def has(document: dict[str, Any], declared: dict[str, Any]) -> bool:
        if wanted is None:
            return True
        names = {dimension for group in declared["Dimensions"] for dimension in group}
        return names == set(wanted) and all(document.get(k) == v for k, v in wanted.items())

    total = 0.0
    for line in output.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        declared = document.get("_aws", {}).get("CloudWatchMetrics", [])
        ours = [d for d in declared if d["Namespace"] == namespace and has(document, d)]
        if ours and name in document:
            values = document[name]
            total += sum(values) if isinstance(values, list) else values
    return total
