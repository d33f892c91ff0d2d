"""The local stack's moto keeps its memory: TransactWriteItems backs up the items it
touches, not whole tables, and nothing of DynamoDB stays in moto's instance tracker."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table

from infra.local import moto_dynamodb

REGION = "eu-west-1"
STATE, EVENTS = "state", "events"
PAD = "x" * 400
"""Items about the size of a consent state or event."""


@pytest.fixture
def table_names() -> None:
    """Overrides the package's autouse tables: these tests make their own."""


@pytest.fixture
def backend() -> Iterator[DynamoDBBackend]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        for name, key in ((STATE, ["pk"]), (EVENTS, ["pk", "sk"])):
            client.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": n, "KeyType": "HASH" if i == 0 else "RANGE"}
                    for i, n in enumerate(key)
                ],
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in key],
                BillingMode="PAY_PER_REQUEST",
            )
        undo = moto_dynamodb.install()
        yield dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
        undo()


def change(profile: str, version: int, event: str) -> list[dict[str, Any]]:
    """A consent change as the store writes it: the state, conditionally, and its event."""
    return [
        {
            "Update": {
                "TableName": STATE,
                "Key": {"pk": {"S": profile}},
                "UpdateExpression": "SET #v = :next, #p = :pad",
                "ConditionExpression": "attribute_not_exists(#v) OR #v = :seen",
                "ExpressionAttributeNames": {"#v": "version", "#p": "pad"},
                "ExpressionAttributeValues": {
                    ":next": {"N": str(version + 1)},
                    ":seen": {"N": str(version)},
                    ":pad": {"S": PAD},
                },
            }
        },
        {
            "Put": {
                "TableName": EVENTS,
                "Item": {"pk": {"S": profile}, "sk": {"S": event}, "pad": {"S": PAD}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def fill(backend: DynamoDBBackend, profiles: int) -> None:
    for i in range(profiles):
        backend.put_item(STATE, {"pk": {"S": f"filler-{i}"}, "pad": {"S": PAD}})
        backend.put_item(EVENTS, {"pk": {"S": f"filler-{i}"}, "sk": {"S": "e0"}, "pad": {"S": PAD}})


def per_transaction_s(backend: DynamoDBBackend, count: int, start: int) -> float:
    began = time.perf_counter()
    for version in range(start, start + count):
        backend.transact_write_items(change("measured", version, f"e{version}"))
    return (time.perf_counter() - began) / count


def tables_in_memory() -> int:
    gc.collect()
    return sum(isinstance(value, Table) for value in gc.get_objects())


def test_a_cancelled_transaction_restores_the_items_it_touched_and_copies_no_table(
    backend: DynamoDBBackend,
) -> None:
    backend.transact_write_items(change("p", 0, "e0"))
    bystander = change("q", 0, "e0")
    backend.transact_write_items(bystander)
    failing = change("p", 1, "e1")
    failing[1]["Put"]["Item"]["sk"] = {"S": "e0"}  # the event exists: the whole change fails
    tables = tables_in_memory()

    with pytest.raises(TransactionCanceledException):
        backend.transact_write_items(failing)

    assert tables_in_memory() == tables

    state = backend.get_item(STATE, {"pk": {"S": "p"}})
    assert state is not None
    assert state.to_json()["Attributes"]["version"] == {"N": "1"}
    assert backend.get_item(EVENTS, {"pk": {"S": "p"}, "sk": {"S": "e1"}}) is None
    assert backend.get_item(STATE, {"pk": {"S": "q"}}) is not None

    backend.put_item(EVENTS, {"pk": {"S": "new"}, "sk": {"S": "e1"}})
    with pytest.raises(TransactionCanceledException):  # the new state must not stay
        backend.transact_write_items(change("new", 0, "e1"))
    assert backend.get_item(STATE, {"pk": {"S": "new"}}) is None


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_thousands_of_transactions_keep_memory_flat(backend: DynamoDBBackend) -> None:
    fill(backend, 100)
    per_transaction_s(backend, 200, 0)  # warm every cache first
    before = live_objects()

    per_transaction_s(backend, 3_000, 200)

    kept = (live_objects() - before) / 3_000
    # Each change keeps its event (one item: a handful of objects); a copy of the tables
    # per transaction would keep some thousand.
    assert kept < 50, f"{kept:.0f} objects kept per transaction"


def test_the_time_of_a_transaction_does_not_grow_with_the_table(
    backend: DynamoDBBackend,
) -> None:
    fill(backend, 20)
    small = min(per_transaction_s(backend, 100, 100 * i) for i in range(3))
    fill(backend, 3_000)
    large = min(per_transaction_s(backend, 100, 300 + 100 * i) for i in range(3))

    assert large / small < 3, f"{large / small:.1f} times slower on a table 150 times larger"
