"""The events path as it runs on AWS, on moto: the consent-events and address-events
tables have the streams template.yaml gives them (the tables are created as the local
stack creates them), Lambda's DynamoDB event source is
played here (read each shard from where the last successful call left it, call the
publisher with Lambda's event, resume from the first record it reports as failed),
and the bus routes every `consentry` event through a rule to a queue, read back as
the events another system receives.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from tests.conftest import REGION, TEMPLATE, stack_name
from tests.integration.conftest import lambda_context

STREAMED_TABLES = tuple(
    logical_id
    for logical_id, resource in TEMPLATE["Resources"].items()
    if resource["Type"] == "AWS::DynamoDB::Table"
    and "StreamSpecification" in resource["Properties"]
)
SOURCES = TEMPLATE["Resources"]["PublisherFunction"]["Properties"]["Events"]
BUS_NAME = stack_name("EventBus")


class FunctionStopped(BaseException):
    """The publisher's execution environment went away mid-invocation (a timeout, a
    crash): not an error the handler sees, so Lambda retries the whole batch."""


class Received:
    """One event as a rule's target receives it."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.source: str = body["source"]
        self.detail_type: str = body["detail-type"]
        self.detail: dict[str, Any] = body["detail"]


class EventsPath:
    def __init__(self, table_names: Mapping[str, str]) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        # moto answers DynamoDB Streams at its regional endpoint, not the account one.
        self.streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.positions: dict[str, str | None] = {}
        """Per stream: the sequence number of the last record acknowledged."""
        self.stream_arns: dict[str, str] = {}
        for table in STREAMED_TABLES:
            described = self.dynamodb.describe_table(TableName=table_names[table])
            self.stream_arns[table] = described["Table"]["LatestStreamArn"]
            self.positions[table] = None
        self.events.create_event_bus(Name=BUS_NAME)
        self.queue_url = self.sqs.create_queue(QueueName="event-consumer")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.events.put_rule(
            Name="everything",
            EventBusName=BUS_NAME,
            EventPattern=json.dumps({"source": ["consentry"]}),
        )
        self.events.put_targets(
            Rule="everything", EventBusName=BUS_NAME, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )
        self.responses: list[dict[str, Any]] = []

    def pending(self, table: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records of `table`'s stream after the last acknowledged one, in
        Lambda's shape."""
        arn = self.stream_arns[table]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        position = self.positions[table]
        iterator = self.streams.get_shard_iterator(
            StreamArn=arn,
            ShardId=shard["ShardId"],
            **(
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
                if position
                else {"ShardIteratorType": "TRIM_HORIZON"}
            ),
        )["ShardIterator"]
        records = self.streams.get_records(ShardIterator=iterator, Limit=limit)["Records"]
        return [_lambda_record(dict(record), arn) for record in records]

    def invoke(self, records: Sequence[dict[str, Any]], bus: Any = None) -> dict[str, Any]:
        from publisher.handler import lambda_handler

        response: dict[str, Any] = lambda_handler(
            {"Records": list(records)}, lambda_context("publisher"), bus=bus
        )
        self.responses.append(response)
        return response

    def deliver(self, *, bus: Any = None, batch_size: int | None = None) -> int:
        """One batch of each stream, as the event source mapping runs it; how many
        records the publisher acknowledged."""
        acknowledged = 0
        for table in STREAMED_TABLES:
            size = batch_size or SOURCES[_source_of(table)]["Properties"]["BatchSize"]
            records = self.pending(table, size)
            if not records:
                continue
            try:
                response = self.invoke(records, bus)
            except FunctionStopped:
                continue
            failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
            numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
            done = numbers[: numbers.index(failed[0])] if failed else numbers
            if done:
                self.positions[table] = done[-1]
            acknowledged += len(done)
        return acknowledged

    def drain(self, *, bus: Any = None, batch_size: int | None = None) -> None:
        while self.deliver(bus=bus, batch_size=batch_size):
            pass

    def received(self) -> list[Received]:
        """Every event the consumer's queue holds, in the order they arrived."""
        found: list[Received] = []
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                found.append(Received(json.loads(message["Body"])))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found


def _source_of(table: str) -> str:
    for name, source in SOURCES.items():
        if source["Properties"]["Stream"]["Fn::GetAtt"][0] == table:
            return str(name)
    raise LookupError(table)


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: its creation time in epoch seconds."""
    stream = dict(record["dynamodb"])
    created = stream["ApproximateCreationDateTime"]
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": stream, "eventSourceARN": stream_arn}
