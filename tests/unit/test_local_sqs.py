"""The local SQS event source: Lambda's SQS event in, deletes and retries out."""

import base64
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from infra.local.lambdas import LocalFunction
from infra.local.sqs import (
    SqsPoller,
    SqsSource,
    build_sqs_event,
    failed_message_ids,
    sqs_sources,
)
from infra.local.template import Physical, Resolver, load_template
from tests.conftest import ROOT

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:consentry-FeedbackQueue"
QUEUE_URL = "http://127.0.0.1:4566/123456789012/consentry-FeedbackQueue"


def message(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "MessageId": f"m{n}",
        "ReceiptHandle": f"r{n}",
        "MD5OfBody": f"md5-{n}",
        "Body": f"body {n}",
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        **extra,
    }


class FakeSqs:
    """The four calls the poller makes, over a list of waiting messages."""

    def __init__(self, messages: Iterable[dict[str, Any]]) -> None:
        self.waiting = list(messages)
        self.deleted: list[str] = []
        self.retried: list[tuple[str, int]] = []
        self.receives: list[dict[str, Any]] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        assert QueueName == "consentry-FeedbackQueue"
        return {"QueueUrl": QUEUE_URL}

    def receive_message(self, **request: Any) -> dict[str, list[dict[str, Any]]]:
        self.receives.append(request)
        batch = self.waiting[: request["MaxNumberOfMessages"]]
        self.waiting = self.waiting[len(batch) :]
        return {"Messages": batch} if batch else {}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:
        assert QueueUrl == QUEUE_URL
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:
        assert QueueUrl == QUEUE_URL
        self.retried += [(entry["ReceiptHandle"], entry["VisibilityTimeout"]) for entry in Entries]


FUNCTION = LocalFunction(
    logical_id="QuarantineFunction",
    name="consentry-QuarantineFunction",
    arn="arn:aws:lambda:eu-west-1:123456789012:function:consentry-QuarantineFunction",
    handler="quarantine.handler.lambda_handler",
    code_dir=Path("functions"),
    memory_mb=512,
    timeout_s=60,
)


def poller(
    sqs: FakeSqs,
    handler: Callable[[dict[str, Any]], object],
    *,
    report_failures: bool = True,
    batch_size: int = 10,
) -> SqsPoller:
    source = SqsSource(
        function=FUNCTION,
        queue_arn=QUEUE_ARN,
        batch_size=batch_size,
        report_batch_item_failures=report_failures,
    )

    def invoke(fn: LocalFunction, event: dict[str, Any]) -> object:
        assert fn is FUNCTION
        return handler(event)

    return SqsPoller(source, sqs=sqs, invoke=invoke, retry_visibility_s=0)


def test_the_event_is_lambdas_sqs_event() -> None:
    binary = {"DataType": "Binary", "BinaryValue": b"\x01\x02"}
    text = {"DataType": "String", "StringValue": "v"}

    (record,) = build_sqs_event(
        [message(1, MessageAttributes={"bin": binary, "txt": text})], QUEUE_ARN
    )["Records"]

    assert record == {
        "messageId": "m1",
        "receiptHandle": "r1",
        "body": "body 1",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {
            "bin": {
                "binaryValue": base64.b64encode(b"\x01\x02").decode(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
            "txt": {
                "stringValue": "v",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
        },
        "md5OfBody": "md5-1",
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "eu-west-1",
    }


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "elsewhere"}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{}]}, {"m1", "m2"}),
    ],
)
def test_reported_failures_are_read_as_lambda_reads_them(result: object, failed: set[str]) -> None:
    assert failed_message_ids(result, ["m1", "m2"]) == failed


def test_a_handled_batch_is_deleted() -> None:
    sqs = FakeSqs([message(1), message(2)])
    seen: list[dict[str, Any]] = []

    assert poller(sqs, seen.append).poll_once() == 2

    assert [r["messageId"] for r in seen[0]["Records"]] == ["m1", "m2"]
    assert sqs.deleted == ["r1", "r2"]
    assert sqs.retried == []


def test_reported_failures_are_left_to_come_back_and_the_rest_is_deleted() -> None:
    sqs = FakeSqs([message(1), message(2), message(3)])

    poller(sqs, lambda _event: {"batchItemFailures": [{"itemIdentifier": "m2"}]}).poll_once()

    assert sqs.deleted == ["r1", "r3"]
    assert sqs.retried == [("r2", 0)]


def test_a_handler_that_raises_leaves_the_whole_batch_to_come_back() -> None:
    sqs = FakeSqs([message(1), message(2)])

    def broken(event: dict[str, Any]) -> NoReturn:
        raise RuntimeError("boom")

    poller(sqs, broken).poll_once()

    assert sqs.deleted == []
    assert sqs.retried == [("r1", 0), ("r2", 0)]


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    sqs = FakeSqs([message(1)])

    poller(
        sqs, lambda _event: {"batchItemFailures": [{"itemIdentifier": "m1"}]}, report_failures=False
    ).poll_once()

    assert sqs.deleted == ["r1"]


def test_a_receive_asks_for_the_batch_size_with_every_attribute() -> None:
    sqs = FakeSqs([message(n) for n in range(5)])

    poller(sqs, lambda _event: None, batch_size=3).poll_once()

    (receive,) = sqs.receives
    assert receive["QueueUrl"] == QUEUE_URL
    assert receive["MaxNumberOfMessages"] == 3
    assert receive["MessageSystemAttributeNames"] == ["All"]
    assert receive["MessageAttributeNames"] == ["All"]
    assert sqs.deleted == ["r0", "r1", "r2"]


def test_an_empty_queue_invokes_nothing() -> None:
    assert poller(FakeSqs([]), lambda _event: pytest.fail("invoked")).poll_once() == 0


def test_the_template_feeds_the_feedback_queue_to_the_quarantine_function() -> None:
    template = load_template(ROOT / "template.yaml")
    resolver = Resolver(
        template,
        region="eu-west-1",
        physical={"FeedbackQueue": Physical(ref=QUEUE_URL, attributes={"Arn": QUEUE_ARN})},
    )

    (source,) = sqs_sources(template, resolver, {"QuarantineFunction": FUNCTION})

    assert source.function is FUNCTION
    assert source.queue_arn == QUEUE_ARN
    assert source.batch_size == 10
    assert source.report_batch_item_failures is True
