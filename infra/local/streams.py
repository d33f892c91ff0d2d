"""DynamoDB stream event sources, and the event bus's local consumer.

`StreamPoller` is a thread per `Events: Type: DynamoDB` of a function. It reads the
stream from where the last successful call left it (TRIM_HORIZON at first), hands up
to `BatchSize` records to the handler as Lambda's DynamoDB stream event, and does what
Lambda's event source mapping does: with `ReportBatchItemFailures`, resumes from the
first record reported (all of the batch when the handler raised); after
`MaximumRetryAttempts` retries of one batch, sends what Lambda sends to the on-failure
destination (an SQS queue) and moves past the batch.

SES's account-level suppression calls (moto has no SESv2 suppression list) are not
sent: the function that makes them gets `SuppressionOutbox` as its SESv2 client, which
appends each call to `<state dir>/outbox.jsonl`, beside the mails.

`EventsLog` routes the bus through a rule to a local queue and appends every event it
receives to `<state dir>/events.jsonl`, one JSON object a line: what a system
listening on the bus would get.

Local difference: records are polled every POLL_S, not pushed; shards are read as
moto has them (one per table).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra.local.lambdas import LambdaContext, LocalFunction
from infra.local.template import Resolver, Template

POLL_S = 0.2
SES_SUPPRESSION_HANDLER = "suppression.handler.lambda_handler"
EVENTS_QUEUE = "consentry-local-events"
EVENTS_RULE = "consentry-local-everything"


@dataclass(frozen=True)
class StreamSource:
    function: LocalFunction
    stream_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_retry_attempts: int
    on_failure_queue_arn: str | None


def stream_sources(
    template: Template, resolver: Resolver, functions: Mapping[str, LocalFunction]
) -> list[StreamSource]:
    """The enabled DynamoDB stream event sources; `functions` by logical id."""
    sources = []
    for event in template.function_events("DynamoDB"):
        props = resolver.resolve(event.properties)
        if not props.get("Enabled", True) or event.function not in functions:
            continue
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {})
        sources.append(
            StreamSource(
                function=functions[event.function],
                stream_arn=props["Stream"],
                batch_size=int(props.get("BatchSize", 100)),
                report_batch_item_failures=(
                    "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
                ),
                maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                on_failure_queue_arn=on_failure.get("Destination"),
            )
        )
    return sources


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: its creation time in epoch seconds."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn}


def first_failure(result: Any, numbers: list[str], *, report: bool) -> int | None:
    """The index of the first record to retry, or None: the batch is done."""
    if not report:
        return None
    failures = result.get("batchItemFailures") if isinstance(result, Mapping) else None
    if not failures:
        return None
    reported = [f.get("itemIdentifier") if isinstance(f, Mapping) else None for f in failures]
    if any(identifier not in numbers for identifier in reported):
        return 0
    return min(numbers.index(str(identifier)) for identifier in reported)


class StreamPoller:
    """Feeds one table's stream to one function until stopped."""

    def __init__(
        self,
        source: StreamSource,
        *,
        region: str,
        invoke: Callable[[LocalFunction, Any], Any],
        poll_s: float = POLL_S,
    ) -> None:
        self.source = source
        self._streams = boto3.client(
            "dynamodbstreams",
            region_name=region,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self._sqs = boto3.client("sqs", region_name=region)
        self._invoke = invoke
        self._poll_s = poll_s
        self._position: str | None = None
        self._attempts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"stream-{source.function.logical_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(self._poll_s)
            except Exception:
                print(f"[{self.source.function.logical_id}] stream poller:", file=sys.stderr)
                traceback.print_exc()
                self._stop.wait(1)

    def pending(self) -> list[dict[str, Any]]:
        arn = self.source.stream_arn
        shard = self._streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        start: dict[str, Any] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._position}
            if self._position
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = self._streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], **start
        )["ShardIterator"]
        records = self._streams.get_records(ShardIterator=iterator, Limit=self.source.batch_size)[
            "Records"
        ]
        return [lambda_record(record, arn) for record in records]

    def poll_once(self) -> int:
        """Hand one batch to the function and settle it; how many records were done."""
        records = self.pending()
        if not records:
            return 0
        numbers = [str(r["dynamodb"]["SequenceNumber"]) for r in records]
        try:
            result = self._invoke(self.source.function, {"Records": records})
        except Exception:
            failed: int | None = 0
        else:
            failed = first_failure(result, numbers, report=self.source.report_batch_item_failures)
        if failed is None:
            self._done(numbers[-1])
            return len(records)
        if failed > 0:
            self._done(numbers[failed - 1])
            return failed
        self._attempts += 1
        limit = self.source.maximum_retry_attempts
        if limit >= 0 and self._attempts > limit:
            self._give_up(numbers)
            return len(records)
        return 0

    def _done(self, number: str) -> None:
        self._position, self._attempts = number, 0

    def _give_up(self, numbers: list[str]) -> None:
        """What Lambda sends the on-failure destination: where the batch was, not its records."""
        if self.source.on_failure_queue_arn:
            name = self.source.on_failure_queue_arn.rsplit(":", 1)[1]
            url = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
            body = {
                "requestContext": {"condition": "RetryAttemptsExhausted"},
                "DDBStreamBatchInfo": {
                    "streamArn": self.source.stream_arn,
                    "startSequenceNumber": numbers[0],
                    "endSequenceNumber": numbers[-1],
                    "batchSize": len(numbers),
                },
            }
            self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
        self._done(numbers[-1])


class EventsLog:
    """Every event of the bus, through a rule and a local queue, to a JSON-lines file."""

    def __init__(self, region: str, bus_name: str, path: Path) -> None:
        self._sqs = boto3.client("sqs", region_name=region)
        events = boto3.client("events", region_name=region)
        self._queue_url = self._sqs.create_queue(QueueName=EVENTS_QUEUE)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(
            QueueUrl=self._queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_rule(
            Name=EVENTS_RULE,
            EventBusName=bus_name,
            EventPattern=json.dumps({"source": ["consentry"]}),
        )
        events.put_targets(
            Rule=EVENTS_RULE, EventBusName=bus_name, Targets=[{"Id": "local", "Arn": queue_arn}]
        )
        self._path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events-log", daemon=True)

    def start(self) -> EventsLog:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.write_text("")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        while self.copy():
            pass

    def copy(self) -> int:
        """Append what the queue holds (one receive); how many events there were."""
        messages = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if messages:
            with self._path.open("a", encoding="utf-8") as file:
                for message in messages:
                    file.write(json.dumps(json.loads(message["Body"]), ensure_ascii=False) + "\n")
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.copy():
                    self._stop.wait(POLL_S)
            except Exception:
                print("events log:", file=sys.stderr)
                traceback.print_exc()
                self._stop.wait(1)


def start_event_delivery(
    stack: contextlib.ExitStack,
    template: Template,
    *,
    resolver: Resolver,
    functions: Mapping[str, LocalFunction],
    invoke: Callable[[LocalFunction, Any], Any],
    state_dir: Path,
) -> None:
    """Start the events log and a poller per stream source; `stack` stops them (the
    pollers first, then the log, which copies what they published last)."""
    region = resolver.pseudo["AWS::Region"]
    bus_name = resolver.resolve({"Ref": "EventBus"})
    stack.callback(EventsLog(region, bus_name, state_dir / "events.jsonl").start().stop)
    outbox = SuppressionOutbox(state_dir / "outbox.jsonl")
    for source in stream_sources(template, resolver, functions):
        if source.function.handler == SES_SUPPRESSION_HANDLER:
            poller = StreamPoller(source, region=region, invoke=outbox.invoke)
        else:
            poller = StreamPoller(source, region=region, invoke=invoke)
        poller.start()
        stack.callback(poller.stop)


class SuppressionOutbox:
    """The SESv2 suppression-list calls, appended to the outbox instead of sent."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def invoke(self, function: LocalFunction, event: Any) -> Any:
        from suppression.handler import lambda_handler  # noqa: PLC0415 (functions/ on the path)

        return lambda_handler(event, LambdaContext(function), ses=self)

    def put_suppressed_destination(self, **request: Any) -> dict[str, Any]:
        self._write("PutSuppressedDestination", request)
        return {}

    def delete_suppressed_destination(self, **request: Any) -> dict[str, Any]:
        self._write("DeleteSuppressedDestination", request)
        return {}

    def _write(self, operation: str, request: dict[str, Any]) -> None:
        line = json.dumps({"service": "sesv2", "operation": operation, **request})
        with self._lock, self._path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
