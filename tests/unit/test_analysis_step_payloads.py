"""The steps' tasks, results and stored plan are msgspec structs: a task of the wrong
shape is refused naming its field, a stored object of another shape stops the run
clearly, and the request the steps read back is the one Plan checked, field for field.
What the steps write in the contract's terms without its models (the record, the
identifier check) is what the contract's models read and write."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from analyze import assemble, classify, count, partition, record_failure
from analyze.step import ObjectRef, Wiring, load_stored
from consentry.analysis import record_store
from consentry.analysis.contract import AnalysisRecord, AnalysisRequest
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.run import RunPlan
from consentry.analysis.tables import RECORD, AnalysisModel
from consentry.analysis.terms import CheckedRequest, IncompleteAnalysisError
from consentry.core.bucket import DataBucket
from consentry.core.types import is_identifier
from consentry.core.wire import IdentifierStr

PLAN = {"bucket": "data", "key": "analyses/d-1/run/plan.json"}
CONTEXT = SimpleNamespace(
    function_name="step",
    memory_limit_in_mb=1024,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:step",
    aws_request_id="r-1",
)
NO_WIRING = cast("Wiring", object())
"""A task refused before the step runs never reaches its wiring."""


@pytest.mark.parametrize(
    ("handler", "event", "where"),
    [
        (partition.lambda_handler, {"plan": PLAN, "chunk": "7"}, "$.chunk"),
        (partition.lambda_handler, {"plan": PLAN}, "chunk"),
        (assemble.lambda_handler, {"plan": {"bucket": "data"}, "chunk": 0}, "key"),
        (classify.lambda_handler, {"plan": PLAN, "shard": 1.5}, "$.shard"),
        (classify.lambda_handler, {"plan": [PLAN], "shard": 0}, "$.plan"),
        (count.lambda_handler, {"plan": PLAN, "range": None}, "$.range"),
        (count.lambda_handler, ["not", "an", "object"], "object"),
    ],
)
def test_a_task_of_the_wrong_shape_is_refused_naming_its_field(
    handler: Any, event: Any, where: str
) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(where)):
        handler(event, CONTEXT, wiring=NO_WIRING)


class StoredBytes:
    """A data bucket that holds one object."""

    name = "data"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_bytes(self, _key: str) -> bytes:
        return self.data


@pytest.mark.parametrize(
    "stored",
    [
        b"",
        b"not json",
        b'{"request": 1}',
        b"[]",
        b'{"request": {"deliveryId": "d-1"}, "shards": "many"}',
    ],
)
def test_a_stored_plan_of_another_shape_stops_the_run(stored: bytes) -> None:
    bucket = cast("DataBucket", StoredBytes(stored))

    with pytest.raises(IncompleteAnalysisError, match="the run's plan cannot be read"):
        load_stored(bucket, ObjectRef(bucket="data", key=PLAN["key"]), RunPlan, "plan")


REQUESTS = [
    {
        "deliveryId": "d-1",
        "channel": "email",
        "messageClass": "marketing",
        "audience": {"uri": "s3://data/audiences/a.csv"},
    },
    {
        "deliveryId": "d-2",
        "channel": "sms",
        "messageClass": "transactional",
        "serviceId": "news",
        "audience": {
            "uri": "s3://data/audiences/a.jsonl",
            "format": "jsonl",
            "profileIdField": "id",
            "addressField": "phone",
        },
        "controlGroup": {"percent": 12.5, "seed": "spring"},
        "dryRun": True,
        "force": True,
    },
    {
        "deliveryId": "d-3",
        "channel": "email",
        "messageClass": "marketing",
        "audience": {"uri": "s3://data/a.csv"},
        "controlGroup": {"percent": 5, "seed": -(2**63)},
    },
]


@pytest.mark.parametrize("raw", REQUESTS)
def test_the_steps_read_the_request_plan_checked_unchanged(raw: dict[str, Any]) -> None:
    checked = AnalysisRequest.model_validate(raw)
    stored = msgspec.json.encode(checked.checked())

    read = msgspec.json.decode(stored, type=CheckedRequest)

    contract = checked.model_dump(mode="json", by_alias=True)
    assert msgspec.to_builtins(read) == contract
    assert read.marketing is (raw["messageClass"] == "marketing")
    assert read.service == raw.get("serviceId")


def _contract_fields(model: type[BaseModel]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = [
            arg
            for arg in (info.annotation, *getattr(info.annotation, "__args__", ()))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        fields[info.alias or name] = _contract_fields(nested[0]) if nested else None
    return fields


def _checked_fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        kinds = (field.type, *getattr(field.type, "__args__", ()))
        nested = [k for k in kinds if isinstance(k, type) and issubclass(k, msgspec.Struct)]
        fields[field.encode_name] = _checked_fields(nested[0]) if nested else None
    return fields


def test_the_checked_request_has_every_field_of_the_contract_s() -> None:
    assert _checked_fields(CheckedRequest) == _contract_fields(AnalysisRequest)


RECORDS = [
    AnalysisModel(
        "d-1",
        RECORD,
        status="SUCCEEDED",
        execution_arn="arn:aws:states:eu-west-1:123456789012:execution:analysis:run-1",
        request={"deliveryId": "d-1", "dryRun": False},
        consent_as_of=datetime(2026, 12, 5, 7, 0, 0, 250000, tzinfo=UTC),
        audience_size=10,
        target_size=4,
        excluded={cause.value: number for number, cause in enumerate(ExclusionCause)},
        target_uri="s3://data/analyses/d-1/run-1/target/",
        target_parts=3,
        exclusion_log_uri="s3://data/analyses/d-1/run-1/exclusions/",
        created_at=datetime(2026, 12, 5, 6, 59, tzinfo=UTC),
        updated_at=datetime(2026, 12, 5, 7, 1, tzinfo=UTC),
    ),
    AnalysisModel(
        "d-2",
        RECORD,
        status="FAILED",
        execution_arn="arn:run-2",
        request={"deliveryId": "d-2", "dryRun": True},
        error={"type": "AudienceError", "message": "audience: no header row"},
        created_at=datetime(2026, 12, 5, 6, 59, tzinfo=UTC),
        updated_at=datetime(2026, 12, 5, 6, 59, 30, tzinfo=UTC),
    ),
    AnalysisModel("d-3", RECORD, status="PENDING", execution_arn="arn:run-3"),
]


@pytest.mark.parametrize("item", RECORDS, ids=lambda item: str(item.status))
def test_the_record_summarize_returns_is_the_contract_s(item: AnalysisModel) -> None:
    """Summarize returns the record as a plain document; the contract's model reads it
    and writes back the same JSON."""
    document = record_store.document(item)

    assert AnalysisRecord.model_validate(document).model_dump(mode="json", by_alias=True) == (
        document
    )


@given(st.text(max_size=140) | st.from_regex(r"[A-Za-z0-9._:@+\-]{1,140}\n?", fullmatch=True))
def test_an_identifier_is_checked_as_the_contract_checks_it(value: str) -> None:
    try:
        TypeAdapter(IdentifierStr).validate_python(value)
    except ValidationError:
        valid = False
    else:
        valid = True

    assert is_identifier(value) is valid


class KeptErrors:
    """A data bucket holding one kept step error, as `stored`."""

    name = "data"

    def __init__(self, stored: bytes) -> None:
        self.stored = stored

    def list_keys(self, prefix: str) -> list[str]:
        return [f"{prefix}2-classify-00003.json"]

    def get_bytes(self, _key: str) -> bytes:
        return self.stored

    def delete_prefix(self, _prefix: str) -> int:
        return 1


@pytest.mark.parametrize(
    ("stored", "recorded"),
    [
        (b'{"type": "AudienceError", "message": "audience: no header row"}', "AudienceError"),
        (b"not json", "States.TaskFailed"),
        (b'{"type": 3}', "States.TaskFailed"),
    ],
)
def test_record_failure_records_the_kept_error_or_else_the_caught_one(
    monkeypatch: pytest.MonkeyPatch, stored: bytes, recorded: str
) -> None:
    failures: list[tuple[str, str]] = []

    def fail(_delivery: str, _arn: str, error_type: str, message: str, _now: datetime) -> bool:
        failures.append((error_type, message))
        return False  # another run's record: nothing to count

    monkeypatch.setattr(record_store, "fail", fail)
    state = {"deliveryId": "d-1", "error": {"Error": "States.TaskFailed", "Cause": "map"}}

    output = record_failure.record_failure(
        state,
        "arn:run-1",
        cast("DataBucket", KeptErrors(stored)),
        datetime(2026, 12, 5, tzinfo=UTC),
    )

    assert [error for error, _ in failures] == [recorded]
    assert output.error == recorded
