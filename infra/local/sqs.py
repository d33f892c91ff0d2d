"""SQS event sources: a poller thread per `Events: Type: SQS` of a function.

Each poll receives up to `BatchSize` messages (at most 10, one ReceiveMessage),
hands them to the handler as Lambda's SQS event, and then does what Lambda's event
source mapping does: deletes the batch when the handler returns, none of it when the
handler raises, and with `ReportBatchItemFailures` all but the reported failures (an
unknown or empty `itemIdentifier` fails the whole batch).

Local difference: a failed message is made visible again after RETRY_VISIBILITY_S
instead of the queue's VisibilityTimeout (360 s in the template), so moto's redrive
policy moves a poison message to the dead-letter queue within seconds.
`MaximumBatchingWindowInSeconds` is not waited for either.

Like Lambda's event source mapping, several pollers (POLLERS_PER_SOURCE) feed one
source, so batches of one queue are handled at once.
"""

from __future__ import annotations

import base64
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.lambdas import LocalFunction
from infra.local.template import Resolver, Template

RETRY_VISIBILITY_S = 1
POLLERS_PER_SOURCE = 2
WAIT_S = 1
"""Long-poll time of one receive: also how long a stop waits for a poller."""


@dataclass(frozen=True)
class SqsSource:
    function: LocalFunction
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


def sqs_sources(
    template: Template, resolver: Resolver, functions: Mapping[str, LocalFunction]
) -> list[SqsSource]:
    """The enabled SQS event sources; `functions` by logical id."""
    sources = []
    for event in template.function_events("SQS"):
        props = resolver.resolve(event.properties)
        if not props.get("Enabled", True) or event.function not in functions:
            continue
        sources.append(
            SqsSource(
                function=functions[event.function],
                queue_arn=props["Queue"],
                batch_size=int(props.get("BatchSize", 10)),
                report_batch_item_failures=(
                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
                ),
            )
        )
    return sources


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = b64(value["BinaryValue"])
    return attribute


def build_sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's SQS event for messages as ReceiveMessage returns them."""
    region = queue_arn.split(":")[3]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: _message_attribute(value)
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def failed_message_ids(result: Any, message_ids: Iterable[str]) -> set[str]:
    """The ids a ReportBatchItemFailures response reports; all of them if it is malformed."""
    batch = set(message_ids)
    failures = result.get("batchItemFailures") if isinstance(result, Mapping) else None
    if not failures:
        return set()
    reported = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not identifier or identifier not in batch:
            return batch
        reported.add(identifier)
    return reported


class SqsPoller:
    """Feeds one queue to one function until stopped."""

    def __init__(
        self,
        source: SqsSource,
        *,
        sqs: Any,
        invoke: Callable[[LocalFunction, Any], Any],
        retry_visibility_s: int = RETRY_VISIBILITY_S,
        wait_s: int = WAIT_S,
    ) -> None:
        self.source = source
        self._sqs = sqs
        self._invoke = invoke
        self._retry_visibility_s = retry_visibility_s
        self._wait_s = wait_s
        self._queue_url = sqs.get_queue_url(QueueName=source.queue_arn.rsplit(":", 1)[1])[
            "QueueUrl"
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"sqs-{source.function.logical_id}-{id(self)}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                print(f"[{self.source.function.logical_id}] SQS poller:", file=sys.stderr)
                traceback.print_exc()
                self._stop.wait(self._wait_s)

    def poll_once(self) -> int:
        """Receive one batch and settle it; how many messages it held."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            WaitTimeSeconds=self._wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        ids = [message["MessageId"] for message in messages]
        try:
            result = self._invoke(
                self.source.function, build_sqs_event(messages, self.source.queue_arn)
            )
        except Exception:
            failed = set(ids)
        else:
            failed = (
                failed_message_ids(result, ids) if self.source.report_batch_item_failures else set()
            )
        self._settle(messages, failed)
        return len(messages)

    def _settle(self, messages: list[Mapping[str, Any]], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if retry:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_visibility_s,
                    }
                    for i, m in enumerate(retry)
                ],
            )
