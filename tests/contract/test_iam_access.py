"""What the functions do to tables, buckets and secrets is held to their IAM policies.

moto allows every call; AWS allows what the function's policies in template.yaml say.
The run's own record (tests/conftest.py) fails the run on a call no policy allows;
these tests show that record sees what it must and flags what it must.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from infra.local.access import (
    Access,
    AccessLog,
    accesses,
    grants,
    handler_files,
    logical_id,
    resource_ids,
    saved,
    ungranted,
)
from infra.local.template import load_template
from infra.local.workers import ACCESS_LOG_DIR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
REGION = "eu-west-1"


def test_a_transaction_is_each_of_its_items_action_on_its_table() -> None:
    items = [
        {"Put": {"TableName": "a", "Item": {}}},
        {"Update": {"TableName": "b", "Key": {}}},
        {"Delete": {"TableName": "a", "Key": {}}},
        {"ConditionCheck": {"TableName": "c", "Key": {}}},
    ]
    assert accesses("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("PutItem", "a"),
        ("UpdateItem", "b"),
        ("DeleteItem", "a"),
        ("ConditionCheckItem", "c"),
    ]
    batch: dict[str, Any] = {"RequestItems": {"a": [], "b": []}}
    assert accesses("dynamodb", "BatchWriteItem", batch) == [
        ("BatchWriteItem", "a"),
        ("BatchWriteItem", "b"),
    ]
    assert accesses("dynamodb", "Query", {"TableName": "a"}) == [("Query", "a")]
    assert accesses("dynamodb", "ListTables", {}) == []


def test_s3_operations_are_the_actions_iam_names() -> None:
    assert accesses("s3", "HeadObject", {"Bucket": "b", "Key": "k"}) == [("GetObject", "b")]
    assert accesses("s3", "ListObjectsV2", {"Bucket": "b"}) == [("ListBucket", "b")]
    assert accesses("s3", "UploadPart", {"Bucket": "b"}) == [("PutObject", "b")]
    assert accesses("secretsmanager", "GetSecretValue", {"SecretId": "s"}) == [
        ("GetSecretValue", "s")
    ]


def test_the_policies_of_a_function_are_read_from_the_template() -> None:
    console = grants(TEMPLATE, "ConsoleFunction")
    assert ("dynamodb", "ConditionCheckItem", "DomainWindowsTable") in console
    assert ("dynamodb", "GetItem", "AnalysesTable") in console
    assert ("dynamodb", "PutItem", "AnalysesTable") not in console  # a read policy
    assert ("cognito-idp", "AdminListGroupsForUser", "ConsoleUserPool") in console
    landing = grants(TEMPLATE, "LandingFunction")
    assert ("secretsmanager", "GetSecretValue", "ProfileIdKey") in landing
    assert not any(lid == "DataBucket" for _, _, lid in landing)


def test_a_resource_is_known_by_its_name_or_its_arn() -> None:
    names = resource_ids(TEMPLATE)
    assert logical_id("consentry-ProfilesTable", names) == "ProfilesTable"
    assert logical_id("consentry-databucket", names) == "DataBucket"
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:consentry-SigningKeys-AbCdEf"
    assert logical_id(arn, names) == "SigningKeys"
    assert logical_id("someone-elses-table", names) is None


def test_a_call_no_policy_allows_is_named_and_one_outside_the_template_is_not() -> None:
    recorded = [
        Access("LandingFunction", "dynamodb", "GetItem", "consentry-ProfilesTable"),
        Access("LandingFunction", "dynamodb", "PutItem", "consentry-ServicesTable"),
        Access("LandingFunction", "s3", "PutObject", "consentry-databucket"),
        Access("LandingFunction", "dynamodb", "PutItem", "a-test-table"),
    ]
    assert ungranted(TEMPLATE, recorded) == [
        "LandingFunction: dynamodb:PutItem on ServicesTable",
        "LandingFunction: s3:PutObject on DataBucket",
    ]


def _handler_call() -> None:
    boto3.client("dynamodb", region_name=REGION).get_item(
        TableName="consentry-ProfilesTable", Key={"profileId": {"S": "p"}}
    )


@mock_aws
def test_a_call_is_the_function_whose_handler_module_made_it(tmp_path: Path) -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="consentry-ProfilesTable",
        KeySchema=[{"AttributeName": "profileId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "profileId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    log = AccessLog({Path(__file__).resolve(): "LandingFunction"}, saved_to=tmp_path / "a.json")
    with log.installed():
        _handler_call()
    other = AccessLog({Path("/elsewhere/handler.py"): "LandingFunction"})
    with other.installed():
        _handler_call()
    _handler_call()  # neither records once uninstalled
    expected = {Access("LandingFunction", "dynamodb", "GetItem", "consentry-ProfilesTable")}
    assert log.recorded == expected
    assert other.recorded == set()
    log.save()
    assert saved(tmp_path) == expected


def test_every_function_of_the_template_has_a_handler_file() -> None:
    files = handler_files(TEMPLATE)
    assert sorted(files.values()) == sorted(
        lid
        for lid, resource in TEMPLATE.resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    )
    assert all(path.is_file() for path in files)


def test_a_worker_of_the_local_stack_records_what_its_function_does(tmp_path: Path) -> None:
    """A worker runs one invocation at a time, so each call it makes is that function's;
    what it records is saved before it answers."""
    functions = tmp_path / "functions"
    (functions / "probe").mkdir(parents=True)
    (functions / "probe" / "__init__.py").write_text("")
    (functions / "probe" / "handler.py").write_text(
        textwrap.dedent(
            """
            import boto3

            def lambda_handler(event, context):
                boto3.client("s3", region_name="eu-west-1").list_objects_v2(
                    Bucket="consentry-databucket"
                )
                return {"ok": True}
            """
        )
    )
    log_dir = tmp_path / "access"
    log_dir.mkdir()
    script = textwrap.dedent(
        f"""
        import json, multiprocessing, threading
        from moto import mock_aws
        from infra.local.workers import WorkerFunction, worker_main

        function = WorkerFunction(
            name="probe", logical_id="ProbeFunction", arn="arn:probe",
            handler="probe.handler.lambda_handler", code_dir={str(functions)!r},
            memory_mb=128, timeout_s=10,
        )
        with mock_aws():
            import boto3
            boto3.client("s3", region_name="eu-west-1").create_bucket(
                Bucket="consentry-databucket",
                CreateBucketConfiguration={{"LocationConstraint": "eu-west-1"}},
            )
            ours, theirs = multiprocessing.Pipe()

            def invoke():
                print(json.dumps(ours.recv()[0]))
                ours.send(("probe", {{}}))
                print(json.dumps(ours.recv()))
                ours.close()

            caller = threading.Thread(target=invoke)
            caller.start()
            worker_main(theirs, [function])  # until the caller hangs up
            caller.join()
        """
    )
    env = {**os.environ, ACCESS_LOG_DIR: str(log_dir), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answers: list[Any] = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers == ["ready", ["result", {"ok": True}]]
    assert saved(log_dir) == {Access("ProbeFunction", "s3", "ListBucket", "consentry-databucket")}
