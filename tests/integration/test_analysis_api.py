"""/v1/deliveries/{deliveryId}/analysis: start an analysis, read its record, explain a row;
the consent function in-process, the state machine on moto's engine."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from consentry.addresses.status import AddressStatus
from consentry.core.settings import get_settings
from infra.local.template import ACCOUNT_ID
from tests.conftest import REGION
from tests.integration.analysis_support import (
    AnalysisStack,
    analysis_state_machine,
    moto_running_executions,
    opt_out,
    set_address,
)
from tests.integration.conftest import ApiCall

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BUCKET = get_settings().data_bucket
BASE = "/v1/deliveries/{}/analysis"

Analyzed = tuple[dict[str, Any], dict[str, Any], str]
"""The POST's response, the finished record's response, and the audience's URI."""


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with moto_running_executions() as client:
        yield client


@pytest.fixture
def stack(table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalysisStack]:
    """The state machine, which the consent function may start analyses on."""
    with analysis_state_machine(monkeypatch) as stack:
        monkeypatch.setenv("STATE_MACHINE_ARN", stack.state_machine_arn)
        get_settings.cache_clear()
        yield stack
    monkeypatch.delenv("STATE_MACHINE_ARN")
    get_settings.cache_clear()


def body(uri: str, **fields: Any) -> dict[str, Any]:
    return {"channel": "email", "messageClass": "marketing", "audience": {"uri": uri}, **fields}


def finished(api: ApiCall, delivery_id: str, execution_arn: str | None = None) -> dict[str, Any]:
    """The record once the execution (any, or this one) ended; the POST creates it
    PENDING, Plan makes it RUNNING."""
    deadline = time.monotonic() + 60
    while True:
        response = api("GET", BASE.format(delivery_id))
        record = response["json"] if response["statusCode"] == 200 else {}
        if record.get("status", "RUNNING") not in ("PENDING", "RUNNING") and execution_arn in (
            None,
            record["executionArn"],
        ):
            return response
        assert time.monotonic() < deadline, f"the analysis did not end: {response}"
        time.sleep(0.05)


@pytest.fixture
def analyzed(stack: AnalysisStack, api: ApiCall) -> Analyzed:
    """A done analysis of a small audience: one opted-out profile, one quarantined address."""
    opt_out("p2")
    set_address("q@example.com", AddressStatus.QUARANTINE)
    uri = stack.upload(
        [
            {"profile_id": "p1", "address": "a@example.com"},
            {"profile_id": "p2", "address": "b@example.com"},
            {"profile_id": "p3", "address": "Q@example.com"},
            {"profile_id": "p4", "address": "a@example.com"},
        ]
    )
    started = api("POST", BASE.format("d-1"), json_body=body(uri))
    assert started["statusCode"] == 202, started["json"]
    return started, finished(api, "d-1", started["json"]["executionArn"]), uri


def test_a_post_starts_an_execution_whose_record_the_get_answers(analyzed: Analyzed) -> None:
    started, record, _ = analyzed

    assert started["json"]["executionArn"].startswith("arn:aws:states:")
    assert started["json"]["status"] == "PENDING"
    assert record["statusCode"] == 200
    assert record["json"]["status"] == "SUCCEEDED"
    assert record["json"]["executionArn"] == started["json"]["executionArn"]
    assert record["json"]["excluded"]["profile_opted_out"] == 1
    assert record["json"]["excluded"]["address_quarantined"] == 1
    assert record["json"]["excluded"]["duplicate"] == 1
    assert (record["json"]["audienceSize"], record["json"]["targetSize"]) == (4, 1)


def test_a_second_post_for_a_done_delivery_is_a_conflict_unless_forced(
    analyzed: Analyzed, api: ApiCall
) -> None:
    _, _, uri = analyzed

    again = api("POST", BASE.format("d-1"), json_body=body(uri))
    forced = api("POST", BASE.format("d-1"), json_body=body(uri, force=True))

    assert again["statusCode"] == 409
    assert "force" in again["json"]["message"]
    assert forced["statusCode"] == 202
    assert finished(api, "d-1", forced["json"]["executionArn"])["json"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("address", "profile", "verdicts"),
    [
        ("b@example.com", None, [(2, "profile_opted_out")]),
        ("q@example.com", "p3", [(3, "address_quarantined")]),
        (" A@Example.com", None, [(1, "targeted"), (4, "duplicate")]),
        ("a@example.com", "p4", [(4, "duplicate")]),
    ],
)
def test_explain_gives_each_row_with_the_address_and_its_verdict(
    analyzed: Analyzed,
    api: ApiCall,
    address: str,
    profile: str | None,
    verdicts: list[tuple[int, str]],
) -> None:
    query = {"address": address} | ({"profileId": profile} if profile else {})

    response = api("GET", BASE.format("d-1") + "/explain", query=query)

    assert response["statusCode"] == 200, response["json"]
    assert [(r["row"], r["verdict"]) for r in response["json"]["rows"]] == verdicts
    assert response["json"]["consentAsOf"]


def test_explain_of_an_address_not_in_the_audience_is_not_found(
    analyzed: Analyzed, api: ApiCall
) -> None:
    response = api("GET", BASE.format("d-1") + "/explain", query={"address": "z@example.com"})

    assert response["statusCode"] == 404


def _state_machine_that_never_plans() -> str:
    """A state machine whose executions end at once without running Plan: what a GET
    sees is what the POST wrote."""
    return boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="no-plan",
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/no-plan",
    )["stateMachineArn"]


def test_the_record_exists_from_the_moment_the_post_answers(
    api: ApiCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_MACHINE_ARN", _state_machine_that_never_plans())
    get_settings.cache_clear()

    started = api("POST", BASE.format("d-5"), json_body=body(f"s3://{BUCKET}/a.csv"))
    record = api("GET", BASE.format("d-5"))
    again = api("POST", BASE.format("d-5"), json_body=body(f"s3://{BUCKET}/a.csv"))

    assert started["statusCode"] == 202, started["json"]
    assert started["json"]["status"] == "PENDING"
    assert record["statusCode"] == 200
    assert record["json"]["status"] == "PENDING"
    assert record["json"]["executionArn"] == started["json"]["executionArn"]
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    assert stepfunctions.describe_execution(executionArn=started["json"]["executionArn"])
    assert again["statusCode"] == 409


def test_a_start_that_fails_leaves_a_failed_record_and_may_be_tried_again(
    api: ApiCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:missing"
    monkeypatch.setenv("STATE_MACHINE_ARN", missing)
    get_settings.cache_clear()

    started = api("POST", BASE.format("d-6"), json_body=body(f"s3://{BUCKET}/a.csv"))
    record = api("GET", BASE.format("d-6"))
    again = api("POST", BASE.format("d-6"), json_body=body(f"s3://{BUCKET}/a.csv"))

    assert started["statusCode"] == 503, started["json"]
    assert record["statusCode"] == 200
    assert record["json"]["status"] == "FAILED"
    assert record["json"]["error"]["type"] == "WorkflowUnavailableError"
    assert again["statusCode"] == 503


def test_a_delivery_never_analyzed_is_not_found(stack: AnalysisStack, api: ApiCall) -> None:
    assert api("GET", BASE.format("nothing"))["statusCode"] == 404
    assert (
        api("GET", BASE.format("nothing") + "/explain", query={"address": "a@x.com"})["statusCode"]
        == 404
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "pigeon"}, "channel"),
        ({"messageClass": None}, "messageClass"),
        ({"audience": {"uri": "ftp://x"}}, "audience"),
        ({"deliveryId": "d-1"}, "deliveryId"),
    ],
)
def test_a_bad_body_is_refused_with_the_field(
    stack: AnalysisStack, api: ApiCall, change: dict[str, Any], field: str
) -> None:
    request = {k: v for k, v in {**body(f"s3://{BUCKET}/a.csv"), **change}.items() if v is not None}

    response = api("POST", BASE.format("d-2"), json_body=request)

    assert response["statusCode"] == 422
    assert field in str(response["json"])


def test_a_failed_analysis_shows_why_and_explains_nothing(
    stack: AnalysisStack, api: ApiCall
) -> None:
    uri = stack.upload("profile_id,address\np1\n")

    api("POST", BASE.format("d-3"), json_body=body(uri))
    record = finished(api, "d-3")["json"]

    assert record["status"] == "FAILED"
    assert record["error"]["type"] == "AudienceError"
    assert "row 1 has 1 fields" in record["error"]["message"]
    assert record["target"] is None
    explain = api("GET", BASE.format("d-3") + "/explain", query={"address": "a@x.com"})
    assert explain["statusCode"] == 409


def test_explain_reads_the_shard_of_the_address_when_there_are_several(
    stack: AnalysisStack, api: ApiCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHARD_ROWS", "3")
    get_settings.cache_clear()
    opt_out("p5")
    rows = [{"profile_id": f"p{n}", "address": f"u{n % 6}@example.com"} for n in range(12)]
    started = api("POST", BASE.format("d-4"), json_body=body(stack.upload(rows)))
    assert started["statusCode"] == 202, started["json"]
    record = finished(api, "d-4", started["json"]["executionArn"])["json"]

    response = api("GET", BASE.format("d-4") + "/explain", query={"address": "U5@example.com"})

    assert record["status"] == "SUCCEEDED", record
    assert record["target"]["parts"] > 1
    assert response["statusCode"] == 200, response
    assert [(r["row"], r["profileId"], r["verdict"]) for r in response["json"]["rows"]] == [
        (6, "p5", "profile_opted_out"),
        (12, "p11", "targeted"),
    ]
