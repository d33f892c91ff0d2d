"""A stream record of the consent-events or address-events table, read once.

Lambda hands the publisher its records with the items in DynamoDB's typed JSON. What a
record publishes (`changes`) and what it adds to the daily counts
(`consentry.reporting.counting`) both read its plain values, so each record is
deserialized once, here, and both are handed the result.

The typed values are read by Powertools' deserializer (the one its DynamoDB stream data
class uses), not boto3's: importing `boto3.dynamodb.types` loads the whole boto3
package, which the publisher otherwise does without (consentry.core.clients). The two
read every valid value alike (tests/unit/test_stream_records.py holds them to it). A
number that is not a finite one (text, NaN, infinity: boto3's read them as NaN) or is
beyond DynamoDB's range (boto3's raised an arithmetic error that stopped the whole
batch) makes the record unreadable, as any value that is not typed JSON does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.shared.dynamodb_deserializer import TypeDeserializer

_deserializer = TypeDeserializer()


class UnreadableStreamRecordError(ValueError):
    """A record that is not a stream record as DynamoDB writes them."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    position: str
    """The record's sequence number: where Lambda resumes the shard."""
    event_name: str
    """INSERT, MODIFY or REMOVE."""
    keys: frozenset[str]
    """The names of the item's key attributes, which tell the tables apart."""
    new: dict[str, Any] | None
    old: dict[str, Any] | None
    written_at: datetime | None
    """When the write happened (`ApproximateCreationDateTime`), where the record says."""


@dataclass(frozen=True, slots=True)
class StreamBatch:
    records: list[StreamRecord]
    """The records read, in stream order, up to the first that could not be read."""
    unreadable_at: str | None
    """The position of the first record that could not be read, or None: all were."""


def read_batch(records: Iterable[Mapping[str, Any]]) -> StreamBatch:
    """Lambda's records read in order; reading stops at the first that cannot be read,
    since the shard must stop there too."""
    read: list[StreamRecord] = []
    for record in records:
        try:
            read.append(read_record(record))
        except UnreadableStreamRecordError:
            return StreamBatch(read, str(record["dynamodb"]["SequenceNumber"]))
    return StreamBatch(read, None)


def read_record(record: Mapping[str, Any]) -> StreamRecord:
    """A stream record (Lambda's shape, or dynamodbstreams' GetRecords) as plain values."""
    try:
        stream = record["dynamodb"]
        return StreamRecord(
            position=str(stream["SequenceNumber"]),
            event_name=str(record["eventName"]),
            keys=frozenset(stream["Keys"]),
            new=_image(stream.get("NewImage")),
            old=_image(stream.get("OldImage")),
            written_at=_written_at(stream.get("ApproximateCreationDateTime")),
        )
    except (LookupError, TypeError, AttributeError, ValueError, ArithmeticError) as error:
        raise UnreadableStreamRecordError(f"{type(error).__name__} reading the record") from None


def _image(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream record's image as plain values (numbers as int or float)."""
    if stored is None:
        return None
    return {name: _plain(_deserializer.deserialize(value)) for name, value in stored.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a number that is not a finite one")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _plain(inner) for name, inner in value.items()}
    if isinstance(value, (set, list)):
        return [_plain(inner) for inner in value]
    return value


def _written_at(value: datetime | float | str | None) -> datetime | None:
    """`ApproximateCreationDateTime`: epoch seconds in Lambda's events, a datetime from
    boto3's GetRecords."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)
