"""The analysis state machine end to end on moto's engine: the real ASL file, the real
handlers, DynamoDB and S3 in moto.

Given consent data and an audience in the data bucket, when an execution runs, then its
output (the record), target, exclusion log and failures are what the contract says.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import msgspec
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from pynamodb.connection.table import TableConnection
from pynamodb.exceptions import GetError

from analyze import count as counting
from analyze import plan as planning
from analyze.sizing import ScannedRange, Sizing, load_sizing
from analyze.step import ObjectRef
from consentry.addresses.status import AddressStatus
from consentry.analysis import piece_store, record_store, snapshot_store, suppression
from consentry.analysis.audience import row_starts
from consentry.analysis.classifier import control_sample
from consentry.analysis.contract import AnalysisRecord
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.run import SIZING_FILE, SuppressionRead
from consentry.analysis.suppression import ReadMeter
from consentry.analysis.terms import (
    CHANGED,
    AnalysisConflictError,
    IncompleteAnalysisError,
    check_request,
    run_prefix,
)
from consentry.consent.profile_store import record_change, register_profile
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.bucket import DataBucket
from consentry.core.errors import BucketUnavailableError
from consentry.core.settings import get_settings
from consentry.core.types import Action, Channel, ProfileId, Source
from consentry.privacy import fingerprints
from consentry.privacy.erasure import erase_profile
from tests.conftest import REGION
from tests.integration.analysis_support import (
    AnalysisStack,
    Execution,
    analysis_state_machine,
    create_service,
    moto_running_executions,
    now,
    opt_out,
    set_address,
    subscribe,
    unsubscribe,
)
from tests.integration.helpers import present, seed_released_by_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUCKET = get_settings().data_bucket
"""The deployment's data bucket (audiences must be read from it)."""
CAUSES = [
    "address_missing",
    "address_invalid",
    "address_denylisted",
    "address_quarantined",
    "profile_opted_out",
    "not_subscribed",
    "duplicate",
    "control_group",
]

ShardRows = Callable[[int], None]
"""The `shard_rows` fixture: sets the Plan step's shard size."""


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with moto_running_executions() as client:
        yield client


@pytest.fixture
def stack(table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalysisStack]:
    with analysis_state_machine(monkeypatch) as stack:
        yield stack


@pytest.fixture
def shard_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[ShardRows]:
    """Set the Plan step's shard size (the template's ShardRows parameter)."""

    def set_rows(rows: int) -> None:
        monkeypatch.setenv("SHARD_ROWS", str(rows))
        get_settings.cache_clear()

    yield set_rows
    monkeypatch.delenv("SHARD_ROWS", raising=False)
    get_settings.cache_clear()


def read_with(monkeypatch: pytest.MonkeyPatch, read: SuppressionRead) -> None:
    monkeypatch.setattr(planning, "choose_read", lambda *_: read)


def counts(**nonzero: int) -> dict[str, int]:
    return {cause: nonzero.get(cause, 0) for cause in CAUSES}


def seed_outside(addresses: Iterable[str], inside: str) -> str:
    """A control-group seed (50 %) that samples `inside` and none of `addresses`."""
    for number in range(1000):
        in_sample = control_sample(50.0, f"s{number}")
        if in_sample(inside) and not any(in_sample(a) for a in addresses):
            return f"s{number}"
    raise AssertionError("no such seed")


def test_every_cause_is_counted_logged_and_kept_out_of_the_target(stack: AnalysisStack) -> None:
    create_service("news")
    for profile in ("p3", "p4", "p-out", "p7", "p8", "p9", "p10"):
        subscribe(profile)
    opt_out("p-out")
    set_address("deny@example.com", AddressStatus.DENYLISTED)
    set_address("quar@example.com", AddressStatus.QUARANTINE)
    set_address("allow@example.com", AddressStatus.DENYLISTED)
    set_address("allow@example.com", AddressStatus.ALLOWLISTED)
    seed = seed_outside(["ok@example.com", "allow@example.com"], "ctl@example.com")
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "", "note": "missing"},
            {"profile_id": "p2", "address": "not-an-address", "note": "invalid"},
            {"profile_id": "p3", "address": "deny@example.com", "note": "denylisted"},
            {"profile_id": "p4", "address": "quar@example.com", "note": "quarantined"},
            {"profile_id": "p-out", "address": "out@example.com", "note": "opted out"},
            {"profile_id": "p-nosub", "address": "nosub@example.com", "note": "not subscribed"},
            {"profile_id": "p7", "address": "ok@example.com", "note": "first"},
            {"profile_id": "p8", "address": " OK@Example.com", "note": "same address"},
            {"profile_id": "p9", "address": "ctl@example.com", "note": "control"},
            {"profile_id": "p10", "address": "allow@example.com", "note": "allowlisted"},
        ]
    )

    execution = stack.run(
        stack.request(
            "every-cause", uri, serviceId="news", controlGroup={"percent": 50, "seed": seed}
        )
    )

    assert execution.status == "SUCCEEDED", execution.cause
    record = execution.output
    assert record["status"] == "SUCCEEDED"
    assert record["excluded"] == dict.fromkeys(CAUSES, 1)
    assert (record["audienceSize"], record["targetSize"]) == (10, 2)
    assert record["consentAsOf"] is not None
    assert execution.target_rows() == [
        "profile_id,address,note",
        "p7,ok@example.com,first",
        "p10,allow@example.com,allowlisted",
    ]
    assert [(r["row"], r["profile_id"], r["cause"]) for r in execution.exclusions()] == [
        ("1", "p1", "address_missing"),
        ("2", "p2", "address_invalid"),
        ("3", "p3", "address_denylisted"),
        ("4", "p4", "address_quarantined"),
        ("5", "p-out", "profile_opted_out"),
        ("6", "p-nosub", "not_subscribed"),
        ("8", "p8", "duplicate"),
        ("9", "p9", "control_group"),
    ]
    assert (
        present(record_store.find("every-cause")).model_dump(mode="json", by_alias=True) == record
    )


def test_a_service_delivery_goes_to_confirmed_unexpired_subscribers_only(
    stack: AnalysisStack,
) -> None:
    create_service("news", days=10)
    subscribe("p-active")
    subscribe("p-pending", confirm=False)
    subscribe("p-expired", at=now() - timedelta(days=20))
    subscribe("p-gone")
    unsubscribe("p-gone")
    uri = stack.upload(
        [
            {"profile_id": p, "address": f"{p}@example.com"}
            for p in ("p-active", "p-pending", "p-expired", "p-gone", "p-never")
        ]
    )

    execution = stack.run(stack.request("service", uri, serviceId="news"))

    assert execution.output["excluded"] == counts(not_subscribed=4)
    assert execution.target_rows()[1:] == ["p-active,p-active@example.com"]


def test_a_transactional_delivery_ignores_opt_outs_and_services_but_not_addresses(
    stack: AnalysisStack,
) -> None:
    create_service("news")
    opt_out("p-out")
    set_address("quar@example.com", AddressStatus.QUARANTINE)
    uri = stack.upload(
        [
            {"profile_id": "p-out", "address": "receipt@example.com"},
            {"profile_id": "p2", "address": "quar@example.com"},
        ]
    )

    execution = stack.run(
        stack.request("receipts", uri, messageClass="transactional", serviceId="news")
    )

    assert execution.output["excluded"] == counts(address_quarantined=1)
    assert execution.target_rows()[1:] == ["p-out,receipt@example.com"]


def test_a_dry_run_counts_and_logs_but_writes_no_target(stack: AnalysisStack) -> None:
    opt_out("p1")
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "a@example.com"},
            {"profile_id": "p2", "address": "b@example.com"},
        ]
    )

    execution = stack.run(stack.request("dry", uri, dryRun=True))

    record = execution.output
    assert (record["dryRun"], record["target"], record["targetSize"]) == (True, None, 1)
    assert record["excluded"] == counts(profile_opted_out=1)
    assert [r["cause"] for r in execution.exclusions()] == ["profile_opted_out"]
    assert not stack.keys("analyses/dry/") or not any(
        "/target/" in k for k in stack.keys("analyses/dry/")
    )


AUDIENCE_ROWS = [
    {
        "profile_id": f"p{n}",
        "address": f"User{n % 9}@Example.com",
        "note": f'row {n}, "quoted"\nline',
    }
    for n in range(40)
]


@pytest.mark.parametrize("audience_format", ["csv", "jsonl"])
def test_the_result_does_not_depend_on_the_number_of_shards(
    stack: AnalysisStack, shard_rows: ShardRows, audience_format: str
) -> None:
    opt_out("p3")
    set_address("user4@example.com", AddressStatus.QUARANTINE)
    rows = [dict(row) for row in AUDIENCE_ROWS]
    rows[5]["address"] = ""
    if audience_format == "csv":
        uri = stack.upload(rows)
    else:
        uri = stack.upload(
            "".join(json.dumps(row) + "\n" for row in rows), key="audiences/test.jsonl"
        )
    request = stack.request(
        "shards", uri, audience={"format": audience_format}, controlGroup={"percent": 20, "seed": 1}
    )
    one = stack.run(request)

    shard_rows(9)
    many = stack.run({**request, "force": True})

    assert many.output["target"]["parts"] > 1
    assert "AnalyzePartitionFunction" in many.invoked()
    assert many.target_rows() == one.target_rows()
    assert many.output["excluded"] == one.output["excluded"]
    assert many.exclusions() == one.exclusions()
    assert sum(many.output["excluded"].values()) + many.output["targetSize"] == len(rows)


SKEW_SHARD_ROWS = 1000
SKEW_LIMIT = SKEW_SHARD_ROWS * 1.1
"""The contract's bound: a shard holds at most 10 % more rows than ShardRows."""


def skewed_audience(kind: str) -> str:
    """An audience whose first megabyte misleads an estimate from it: long rows first
    (450 of 2.4 KB, more than the megabyte), then 5,000 short rows; the long rows with
    quoted newlines, or blank lines between the short rows."""
    return "".join(skewed_lines(kind))


def skewed_lines(kind: str) -> list[str]:
    """`skewed_audience`'s header and rows (a quoted newline stays inside its row)."""
    note = "x" * 2400
    if kind == "quoted newlines":
        note = '"' + "\n".join(["y" * 99] * 24) + '"'
    lines = ["profile_id,address,note\n"]
    lines += [f"long{n},long{n}@example.com,{note}\n" for n in range(450)]
    for n in range(5000):
        lines.append(f"s{n},s{n}@example.com,\n")
        if kind == "blank lines" and n % 3 == 0:
            lines.append("\n")
    return lines


@pytest.mark.parametrize("kind", ["long rows first", "quoted newlines", "blank lines"])
def test_no_shard_holds_more_rows_than_the_bound_whatever_the_row_lengths(
    stack: AnalysisStack, shard_rows: ShardRows, kind: str
) -> None:
    shard_rows(SKEW_SHARD_ROWS)
    uri = stack.upload(skewed_audience(kind))

    execution = stack.run(stack.request(f"skew-{kind.replace(' ', '-')}", uri))

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["audienceSize"] == 5450
    shard_sizes = [
        piece.rows for piece in piece_store.pieces(execution.output["deliveryId"], PieceKind.SHARD)
    ]
    assert sum(shard_sizes) == 5450
    assert max(shard_sizes) <= SKEW_LIMIT, shard_sizes


@pytest.mark.parametrize("kind", ["long rows first", "quoted newlines", "blank lines"])
def test_the_count_in_ranges_finds_the_rows_and_chunks_of_one_read(
    stack: AnalysisStack, shard_rows: ShardRows, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Count functions read 32 ranges apart, cut anywhere (inside quoted newlines, on
    blank lines); Plan's stitching finds what one function reading it all finds."""
    shard_rows(SKEW_SHARD_ROWS)
    uri = stack.upload(skewed_audience(kind))
    request = stack.request(f"ranges-{kind.replace(' ', '-')}", uri)
    one = stack.run(request)
    monkeypatch.setenv("COUNT_RANGE_BYTES", "4096")
    get_settings.cache_clear()

    many = stack.run({**request, "force": True})

    assert one.invoked().count("AnalyzeCountFunction") == 1
    assert many.invoked().count("AnalyzeCountFunction") == 32
    assert many.plan()["chunks"] == one.plan()["chunks"]
    assert many.output["audienceSize"] == one.output["audienceSize"] == 5450
    assert many.target_rows() == one.target_rows()
    # Both runs against one read of the whole file, and against the rows as written.
    data = skewed_audience(kind).encode()
    header = len(skewed_lines(kind)[0])
    key = run_prefix(many.output["deliveryId"], many.arn) + SIZING_FILE
    sizing = load_sizing(
        DataBucket(stack.bucket, region=REGION), ObjectRef(bucket=stack.bucket, key=key)
    )
    starts = row_starts([data[header:]], sizing.targets(), quote_aware=True)
    lines = len(skewed_lines(kind)) - 1  # what the count counts: blank lines too
    expected = planning._chunks(lines, starts, (header, len(data)), SKEW_SHARD_ROWS)
    assert many.plan()["chunks"] == msgspec.to_builtins(expected)
    line_starts = set(itertools.accumulate(len(line) for line in skewed_lines(kind)))
    assert {chunk["start"] for chunk in many.plan()["chunks"]} <= line_starts


def test_a_partitioned_crlf_audience_s_target_has_crlf_line_ends_only(
    stack: AnalysisStack, shard_rows: ShardRows
) -> None:
    rows = [
        f'p{n},a{n}@example.com,"note {n}, with a comma"\r\n'
        if n % 3 == 0
        else f"p{n},a{n}@example.com,plain\r\n"
        for n in range(60)
    ]
    audience = "profile_id,address,note\r\n" + "".join(rows)
    uri = stack.upload(audience)
    shard_rows(9)

    execution = stack.run(stack.request("crlf", uri, messageClass="transactional"))

    assert execution.status == "SUCCEEDED", execution.cause
    target = execution.output["target"]
    assert target["parts"] > 1
    prefix = target["uri"].removeprefix(f"s3://{stack.bucket}/")
    parts = [stack.text(key) for key in sorted(stack.keys(prefix))]
    header = "profile_id,address,note\r\n"
    assert all(part.startswith(header) for part in parts)
    assert header + "".join(part.removeprefix(header) for part in parts) == audience


PUT_OPERATIONS = frozenset(
    {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}
)
"""S3 requests billed as writes."""


def count_s3_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the operation name of each S3 write any client makes."""
    writes: list[str] = []
    make_api_call = BaseClient.__dict__["_make_api_call"]

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation in PUT_OPERATIONS and client.meta.service_model.service_name == "s3":
            writes.append(operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return writes


def test_a_partitioned_run_writes_objects_by_shards_plus_chunks(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, shard_rows: ShardRows
) -> None:
    opt_out("p3")
    uri = stack.upload(
        [{"profile_id": f"p{n}", "address": f"a{n % 50}@example.com"} for n in range(90)]
    )
    shard_rows(9)
    writes = count_s3_writes(monkeypatch)

    execution = stack.run(stack.request("puts", uri))

    assert execution.status == "SUCCEEDED", execution.cause
    chunks = execution.output["target"]["parts"]
    shards = len(
        stack.keys(execution.output["exclusionLog"]["uri"].removeprefix(f"s3://{stack.bucket}/"))
    )
    assert (shards, chunks) == (10, 10)
    # sizing, plan, manifest, snapshot; a partition file and a target part per chunk; a
    # verdict file and an exclusion log per shard.
    assert len(writes) == 4 + 2 * chunks + 2 * shards


def test_lookups_give_the_snapshot_s_result(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, shard_rows: ShardRows
) -> None:
    create_service("news")
    for profile in ("p1", "p2", "p3", "p5"):
        subscribe(profile)
    opt_out("p2")
    set_address("q@example.com", AddressStatus.QUARANTINE)
    uri = stack.upload(
        [
            {"profile_id": f"p{n}", "address": a}
            for n, a in enumerate(
                ["a@x.com", "b@x.com", "q@example.com", "c@x.com", "a@x.com"], start=1
            )
        ]
    )
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    snapshot = stack.run(stack.request("reads", uri, serviceId="news"))
    read_with(monkeypatch, SuppressionRead.LOOKUPS)
    shard_rows(2)
    looked_up = stack.run(stack.request("reads", uri, serviceId="news", force=True))

    assert looked_up.output["excluded"] == snapshot.output["excluded"]
    assert looked_up.target_rows() == snapshot.target_rows()
    assert snapshot.output["excluded"] == counts(
        profile_opted_out=1, address_quarantined=1, not_subscribed=1, duplicate=1
    )


@pytest.mark.parametrize("read", [SuppressionRead.SNAPSHOT, SuppressionRead.LOOKUPS])
def test_a_quarantine_whose_release_date_passed_targets_its_address(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, read: SuppressionRead
) -> None:
    seed_released_by_time("released@example.com", released_days_ago=1)
    seed_released_by_time("still.full@example.com", released_days_ago=-1)
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "released@example.com"},
            {"profile_id": "p2", "address": "still.full@example.com"},
        ]
    )
    read_with(monkeypatch, read)

    run = stack.run(stack.request("released", uri))

    assert run.output["excluded"] == counts(address_quarantined=1)
    assert any("released@example.com" in row for row in run.target_rows())


@pytest.mark.parametrize("read", [SuppressionRead.SNAPSHOT, SuppressionRead.LOOKUPS])
@pytest.mark.parametrize("message_class", ["marketing", "transactional"])
def test_an_erased_address_back_under_a_new_profile_keeps_its_cause(
    stack: AnalysisStack,
    monkeypatch: pytest.MonkeyPatch,
    shard_rows: ShardRows,
    read: SuppressionRead,
    message_class: str,
) -> None:
    """An erased person's addresses come back in an audience under profile ids the store
    has never seen: the opt-out stops marketing, the denylist stops everything (one
    shard with the snapshot, two shards with lookups: both loops)."""
    opt_out("gone-1")
    register_profile(ProfileId("gone-1"), {Channel.EMAIL: "opted.out@x.com"}, "en")
    register_profile(ProfileId("gone-2"), {Channel.EMAIL: "denied@x.com"}, "en")
    set_address("denied@x.com", AddressStatus.DENYLISTED)
    keyring = fingerprints.load_keyring(get_settings().erasure_keys_secret, max_age_s=0)
    for profile in ("gone-1", "gone-2"):
        erase_profile(ProfileId(profile), reason="art. 17", actor="tests", keyring=keyring)
    uri = stack.upload(
        [
            {"profile_id": "new-1", "address": "Opted.Out@x.com"},
            {"profile_id": "new-2", "address": "denied@x.com"},
            {"profile_id": "new-3", "address": "someone@x.com"},
            {"profile_id": "new-4", "address": "denied@x.com"},
        ]
    )
    read_with(monkeypatch, read)
    if read is SuppressionRead.LOOKUPS:
        shard_rows(2)

    run = stack.run(stack.request("erased", uri, messageClass=message_class))

    kept = {"profile_opted_out": 1} if message_class == "marketing" else {}
    assert run.output["excluded"] == counts(address_denylisted=2, **kept)
    assert len(run.target_rows()[1:]) == 2 - len(kept)  # after the header


def test_an_analyzed_person_once_erased_is_in_no_table(stack: AnalysisStack) -> None:
    """What an analysis wrote about a person outside the bucket (the record, its pieces)
    holds no address; the bucket's objects expire by lifecycle rule (test_erasure)."""
    register_profile(ProfileId("analyzed"), {Channel.EMAIL: "analyzed.person@x.com"}, "en")
    set_address("analyzed.person@x.com", AddressStatus.QUARANTINE)
    uri = stack.upload([{"profile_id": "analyzed", "address": "analyzed.person@x.com"}])
    assert stack.run(stack.request("before-erasure", uri)).status == "SUCCEEDED"
    keyring = fingerprints.load_keyring(get_settings().erasure_keys_secret, max_age_s=0)

    erase_profile(ProfileId("analyzed"), reason="art. 17", actor="tests", keyring=keyring)

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table in dynamodb.list_tables()["TableNames"]:
        for scanned in dynamodb.get_paginator("scan").paginate(TableName=table):
            assert "analyzed.person" not in json.dumps(scanned["Items"]), table


def test_an_erased_address_leaves_the_stored_snapshot_at_its_next_rewrite(
    stack: AnalysisStack,
) -> None:
    register_profile(ProfileId("leaving"), {Channel.EMAIL: "leaving.person@x.com"}, "en")
    set_address("leaving.person@x.com", AddressStatus.QUARANTINE)
    key = snapshot_store.snapshot_key(Channel.EMAIL)
    stack.take_snapshots()
    assert "leaving.person@x.com" in stack.text(key)
    keyring = fingerprints.load_keyring(get_settings().erasure_keys_secret, max_age_s=0)

    erase_profile(ProfileId("leaving"), reason="art. 17", actor="tests", keyring=keyring)
    stack.take_snapshots()

    assert "leaving.person" not in stack.text(key)


# ---------------------------------------------------------------- failures


def failing(
    monkeypatch: pytest.MonkeyPatch, method: str, error: type[Exception], table: str
) -> None:
    """Make pynamodb's `method` fail for one table, as an unavailable DynamoDB would."""
    original = getattr(TableConnection, method)

    def fail(self: TableConnection, *args: Any, **kwargs: Any) -> Any:
        if self.table_name == table:
            raise error(f"simulated: {table} cannot be read")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TableConnection, method, fail)


def assert_failed_closed(
    stack: AnalysisStack, execution: Execution, delivery_id: str, error_type: str | None
) -> AnalysisRecord:
    assert execution.status == "FAILED"
    assert execution.error == error_type
    record = present(record_store.find(delivery_id))
    assert record.status.value == "FAILED"
    assert record.target is None
    assert present(record.error).type == error_type
    assert not stack.keys(f"analyses/{delivery_id}/")
    return record


def test_a_consent_store_that_cannot_be_read_fails_the_analysis_closed(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    monkeypatch.setattr(suppression, "_raw_client", lambda _model: _Down())
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])

    execution = stack.run(stack.request("store-down", uri))

    record = assert_failed_closed(stack, execution, "store-down", "StoreUnavailableError")
    assert "consent store is unavailable" in present(record.error).message
    assert stack.waits == [2, 4, 8, 16]  # retried with backoff before giving up
    assert execution.invoked().count("AnalyzePlanFunction") == 5


class _Down:
    """A DynamoDB client whose Query pages cannot be read."""

    def query(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "Query")


def test_the_changed_index_gone_fails_the_analysis_closed(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, dynamodb: DynamoDBClient
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    dynamodb.update_table(
        TableName=get_settings().addresses_table,
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "changed"}}],
    )
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])

    execution = stack.run(stack.request("index-gone", uri))

    record = assert_failed_closed(stack, execution, "index-gone", "StoreUnavailableError")
    assert "consent store is unavailable" in present(record.error).message


def test_a_snapshot_older_than_the_runs_consent_as_of_fails_the_analysis(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    current = snapshot_store.current

    def stale(*args: Any) -> dict[str, Any]:
        document = current(*args)
        at = datetime.fromisoformat(document["consentAsOf"])
        return {**document, "consentAsOf": (at - timedelta(minutes=5)).isoformat()}

    monkeypatch.setattr(snapshot_store, "current", stale)
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])

    execution = stack.run(stack.request("stale", uri))

    record = assert_failed_closed(stack, execution, "stale", "IncompleteAnalysisError")
    assert "before this analysis's consentAsOf" in present(record.error).message


def test_no_stored_snapshot_fails_the_analysis_with_why(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    stack.s3.delete_object(Bucket=stack.bucket, Key=snapshot_store.snapshot_key(Channel.EMAIL))
    uri = stack.upload(ONE_ROW)

    execution = stack.run(stack.request("no-snapshot", uri))

    record = assert_failed_closed(stack, execution, "no-snapshot", "IncompleteAnalysisError")
    assert "no suppression snapshot of the email channel" in present(record.error).message
    assert execution.invoked().count("AnalyzePlanFunction") == 1  # not retried


def test_a_snapshot_that_cannot_be_decoded_fails_the_analysis(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    key = snapshot_store.snapshot_key(Channel.EMAIL)
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b'{"format": 1, "optedOut": [')
    uri = stack.upload(ONE_ROW)

    execution = stack.run(stack.request("garbled", uri))

    record = assert_failed_closed(stack, execution, "garbled", "IncompleteAnalysisError")
    assert f"the suppression snapshot {key} cannot be read" in present(record.error).message


def test_a_snapshot_older_than_the_deployment_allows_fails_the_analysis(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    monkeypatch.setenv("SUPPRESSION_SNAPSHOT_MAX_AGE_MINUTES", "30")
    get_settings.cache_clear()
    old = now() - timedelta(minutes=45)
    snapshot_store.write(
        DataBucket(stack.bucket, region=REGION),
        snapshot_store.ChannelSnapshot(Channel.EMAIL, old),
    )
    uri = stack.upload(ONE_ROW)

    execution = stack.run(stack.request("too-old", uri))

    get_settings.cache_clear()
    record = assert_failed_closed(stack, execution, "too-old", "IncompleteAnalysisError")
    message = present(record.error).message
    assert "45 minutes before this analysis; at most 30 are allowed" in message


def test_a_change_stamped_before_the_snapshot_but_written_after_its_pages_is_in_it(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write stamped just before the snapshot's `asOf` may commit after its pages were
    read: the catch-up starts TAIL_MARGIN before `asOf`, so it is read all the same."""
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    opt_out("p1")
    set_address("b@example.com", AddressStatus.DENYLISTED)
    # A snapshot whose pages missed both writes, dated after them.
    snapshot_store.write(
        DataBucket(stack.bucket, region=REGION),
        snapshot_store.ChannelSnapshot(Channel.EMAIL, now() + timedelta(minutes=10)),
    )
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "a@example.com"},
            {"profile_id": "p2", "address": "b@example.com"},
            {"profile_id": "p3", "address": "c@example.com"},
        ]
    )

    execution = stack.run(stack.request("margin", uri))

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["excluded"] == counts(profile_opted_out=1, address_denylisted=1)


ONE_ROW = [{"profile_id": "p1", "address": "a@example.com"}]


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.SMS])
def test_a_stored_snapshot_caught_up_reads_as_the_indexes_do(
    stack: AnalysisStack, channel: Channel
) -> None:
    """Changes before the snapshot, changes after it that undo them, and new ones: the
    stored snapshot brought up to now says what a whole read of the indexes says."""
    opt_out("p1")
    opt_out("p2", Channel.SMS)
    opt_out("p3", Channel.EMAIL)
    opt_out("p4")
    set_address("q@example.com", AddressStatus.QUARANTINE)
    set_address("d@example.com", AddressStatus.DENYLISTED)
    set_address("+33612345678", AddressStatus.DENYLISTED, Channel.SMS)
    seed_released_by_time("released@example.com")
    stack.take_snapshots()
    opt_in("p1")
    opt_out("p5", Channel.SMS)
    opt_out("p6")
    set_address("q@example.com", AddressStatus.VALID)
    set_address("d@example.com", AddressStatus.QUARANTINE)
    set_address("new@example.com", AddressStatus.DENYLISTED)
    set_address("+33612345678", AddressStatus.VALID, Channel.SMS)
    set_address("+33687654321", AddressStatus.QUARANTINE, Channel.SMS)
    request = check_request(
        stack.request("complete", "s3://b/audiences/a.csv") | {"channel": channel.value}
    )
    at = now()

    caught_up = snapshot_store.current(
        request, DataBucket(stack.bucket, region=REGION), at, timedelta(hours=1), ReadMeter()
    )
    whole = suppression.read_snapshot(request, at, ReadMeter())

    for name in ("optedOut", "denylisted", "quarantined", "subscribers", "erased"):
        assert _sorted(caught_up[name]) == _sorted(whole[name]), name
    assert set(caught_up["optedOut"]) == (
        {"p2", "p4", "p5", "p6"} if channel is Channel.SMS else {"p3", "p4", "p6"}
    )


def _sorted(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def opt_in(profile_id: str) -> None:
    record_change(
        ProfileId(profile_id),
        ConsentChange(
            scope=Scope.all(),
            action=Action.OPT_IN,
            source=Source.OPERATOR,
            actor="analysis-test",
            reason="test",
        ),
    )


def test_a_consent_change_made_just_before_the_analysis_starts_is_in_it(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_with(monkeypatch, SuppressionRead.SNAPSHOT)
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "a@example.com"},
            {"profile_id": "p2", "address": "b@example.com"},
            {"profile_id": "p3", "address": "c@example.com"},
        ]
    )
    changed = now()
    opt_out("p1")
    set_address("b@example.com", AddressStatus.QUARANTINE)

    execution = stack.run(stack.request("just-before", uri))

    assert execution.status == "SUCCEEDED", execution.cause
    record = execution.output
    assert record["excluded"] == counts(profile_opted_out=1, address_quarantined=1)
    assert datetime.fromisoformat(record["consentAsOf"]) >= changed
    assert execution.target_rows() == ["profile_id,address", "p3,c@example.com"]


def test_a_shard_that_cannot_read_the_consent_store_fails_the_whole_analysis(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, shard_rows: ShardRows
) -> None:
    read_with(monkeypatch, SuppressionRead.LOOKUPS)
    failing(monkeypatch, "batch_get_item", GetError, get_settings().profiles_table)
    shard_rows(3)
    uri = stack.upload([{"profile_id": f"p{n}", "address": f"u{n}@example.com"} for n in range(9)])

    execution = stack.run(stack.request("shard-down", uri))

    record = assert_failed_closed(stack, execution, "shard-down", "StoreUnavailableError")
    assert "consent store is unavailable" in present(record.error).message
    assert stack.waits  # each shard's retries


def test_an_audience_replaced_while_it_is_counted_fails_the_analysis_as_changed(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, shard_rows: ShardRows
) -> None:
    shard_rows(3)
    rows = [{"profile_id": f"p{n}", "address": f"u{n}@example.com"} for n in range(9)]
    uri = stack.upload(rows)

    def replaced_first(bucket: DataBucket, ref: ObjectRef) -> Sizing:
        stack.upload(rows[:5])  # a new object under the same key: a new ETag
        return load_sizing(bucket, ref)

    monkeypatch.setattr(counting, "load_sizing", replaced_first)  # as Count imported it

    execution = stack.run(stack.request("replaced", uri))

    record = assert_failed_closed(stack, execution, "replaced", "AudienceError")
    assert present(record.error).message.endswith(CHANGED)
    assert execution.invoked()[:2] == ["AnalyzePlanFunction", "AnalyzeCountFunction"]


def test_a_count_range_retried_after_a_hiccup_leaves_sizeds_refusal_as_the_reason(
    stack: AnalysisStack, monkeypatch: pytest.MonkeyPatch, shard_rows: ShardRows
) -> None:
    """A map item's error file is kept for RecordFailure; once its Retry succeeds, the
    file must go, or the recovered hiccup (the earliest step's file) is recorded instead
    of the error that really ended the run."""
    shard_rows(3)
    uri = stack.upload([{"profile_id": f"p{n}", "address": f"u{n}@example.com"} for n in range(9)])
    attempts: list[str] = []

    def down_once(bucket: DataBucket, ref: ObjectRef) -> Sizing:
        attempts.append(ref.key)
        if len(attempts) == 1:
            raise BucketUnavailableError("a passing S3 error")
        return load_sizing(bucket, ref)

    def refused(*_: object) -> None:
        raise IncompleteAnalysisError("Sized refused the count")

    monkeypatch.setattr(counting, "load_sizing", down_once)  # as Count imported it
    monkeypatch.setattr(planning, "sized_run", refused)

    execution = stack.run(stack.request("hiccup", uri))

    record = assert_failed_closed(stack, execution, "hiccup", "IncompleteAnalysisError")
    assert present(record.error).message == "Sized refused the count"
    assert len(attempts) == 2  # the range failed once, then its retry passed
    assert stack.waits
    assert execution.invoked().count("AnalyzeCountFunction") == 2


def test_sized_refuses_scans_that_do_not_match_the_sizing(
    stack: AnalysisStack, shard_rows: ShardRows
) -> None:
    shard_rows(3)
    uri = stack.upload([{"profile_id": f"p{n}", "address": f"u{n}@example.com"} for n in range(9)])
    execution = stack.run(stack.request("sized", uri))
    assert execution.status == "SUCCEEDED", execution.cause
    bucket = DataBucket(stack.bucket, region=REGION)
    run = planning.Run(execution.arn, 1, get_settings(), bucket)
    sizing = run_prefix("sized", execution.arn) + SIZING_FILE
    at = now()

    with pytest.raises(IncompleteAnalysisError, match="the count has 0 ranges, the sizing 1"):
        planning.sized_run(ObjectRef(bucket=stack.bucket, key=sizing), [], run, at)
    whole = load_sizing(bucket, ObjectRef(bucket=stack.bucket, key=sizing)).range_of(0)
    short = ScannedRange(  # a read that ended early: the rows after it would go uncounted
        end=whole[1] - 1,
        quotes_odd=False,
        line_ends=(0, 0),
        starts=([], []),
        targets=whole[2],
        last="",
    )
    with pytest.raises(IncompleteAnalysisError, match="the count's range 0 is not the sizing's"):
        planning.sized_run(ObjectRef(bucket=stack.bucket, key=sizing), [short], run, at)
    other_targets = msgspec.structs.replace(short, end=whole[1], targets=whole[2][1:])
    with pytest.raises(IncompleteAnalysisError, match="the count's range 0 is not the sizing's"):
        planning.sized_run(ObjectRef(bucket=stack.bucket, key=sizing), [other_targets], run, at)
    with pytest.raises(IncompleteAnalysisError, match="the run's sizing is missing"):
        planning.sized_run(ObjectRef(bucket=stack.bucket, key=sizing + ".gone"), [], run, at)
    with pytest.raises(IncompleteAnalysisError, match="not in the data bucket"):
        planning.sized_run(ObjectRef(bucket="another-bucket", key=sizing), [], run, at)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": None}, "channel: required"),
        ({"channel": "pigeon"}, "channel:"),
        ({"messageClass": "promo"}, "messageClass:"),
        ({"serviceId": "no-such-service"}, "serviceId: no service"),
        ({"controlGroup": {"percent": 0, "seed": 1}}, "controlGroup.percent:"),
    ],
)
def test_a_bad_request_fails_with_the_field_in_the_record(
    stack: AnalysisStack, change: dict[str, Any], field: str
) -> None:
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])
    request = {k: v for k, v in {**stack.request("bad", uri), **change}.items() if v is not None}

    execution = stack.run(request)

    record = assert_failed_closed(stack, execution, "bad", "InvalidInputError")
    assert present(record.error).message.startswith(field)
    assert present(execution.cause).startswith(field)


@pytest.mark.parametrize("shards", [None, 2])
def test_a_malformed_audience_fails_with_the_row_and_leaves_no_partial_target(
    stack: AnalysisStack, shard_rows: ShardRows, shards: int | None
) -> None:
    if shards:
        shard_rows(shards)
    uri = stack.upload("profile_id,address\np1,a@x.com\np2,b@x.com\np3,c@x.com,extra\np4,d@x.com\n")

    execution = stack.run(stack.request("malformed", uri))

    record = assert_failed_closed(stack, execution, "malformed", "AudienceError")
    assert "has 3 fields, the header 2" in present(record.error).message


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        ({"uri": f"s3://{BUCKET}/audiences/none.csv"}, "no such object"),
        ({"uri": "s3://other-bucket/a.csv"}, "data bucket"),
        ({"profileIdField": "customer"}, "no column 'customer'"),
    ],
)
def test_an_audience_that_cannot_be_read_fails_with_why(
    stack: AnalysisStack, audience: dict[str, str], message: str
) -> None:
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])
    request = stack.request("unreadable", uri)
    request["audience"] = {**request["audience"], **audience}

    execution = stack.run(request)

    record = assert_failed_closed(stack, execution, "unreadable", execution.error)
    assert message in present(record.error).message


def test_a_request_without_a_delivery_id_fails_without_a_record(stack: AnalysisStack) -> None:
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])
    request = stack.request("x", uri)
    del request["deliveryId"]

    execution = stack.run(request)

    assert (execution.status, execution.error) == ("FAILED", "InvalidInputError")
    assert execution.cause == "deliveryId: required"
    assert execution.invoked() == ["AnalyzePlanFunction", "AnalyzeRecordFailureFunction"]


# ---------------------------------------------------------------- re-runs


def test_a_done_delivery_is_refused_unless_forced(stack: AnalysisStack) -> None:
    uri = stack.upload([{"profile_id": "p1", "address": "a@example.com"}])
    first = stack.run(stack.request("again", uri))

    refused = stack.run(stack.request("again", uri))
    forced = stack.run(stack.request("again", uri, force=True))

    assert (refused.status, refused.error) == ("FAILED", "AnalysisConflictError")
    assert "pass force" in present(refused.cause)
    assert forced.status == "SUCCEEDED"
    record = present(record_store.find("again"))
    assert record.execution_arn == forced.arn != first.arn
    assert (
        present(record.target).uri
        == forced.output["target"]["uri"]
        != first.output["target"]["uri"]
    )


def test_a_failed_delivery_may_run_again_without_force(stack: AnalysisStack) -> None:
    uri = stack.upload("profile_id,address\np1\n")
    failed = stack.run(stack.request("retry", uri))
    stack.upload([{"profile_id": "p1", "address": "a@example.com"}])

    again = stack.run(stack.request("retry", uri))

    assert (failed.status, again.status) == ("FAILED", "SUCCEEDED")
    assert present(record_store.find("retry")).error is None


def test_a_replaced_run_can_no_longer_write_into_the_result(stack: AnalysisStack) -> None:
    request = check_request(stack.request("owned", f"s3://{BUCKET}/a.csv"))
    record_store.claim(request, "arn:old", now())
    record_store.claim(msgspec.structs.replace(request, force=True), "arn:new", now())

    with pytest.raises(AnalysisConflictError):
        piece_store.put_piece("owned", Piece("SHARD#00000", "arn:old", 1, 1), now())
    assert record_store.fail("owned", "arn:old", "X", "stale", now()) is False
    assert present(record_store.find("owned")).execution_arn == "arn:new"
