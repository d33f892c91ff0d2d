"""What the functions call on AWS is held to their IAM policies.

moto allows every call; AWS allows what the function's policies in template.yaml say.
The run's own record (tests/conftest.py) fails the run on a call no policy allows;
these tests show that record sees what it must and flags what it must.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
from moto import mock_aws

from infra.local.access import (
    ANY,
    Access,
    AccessLog,
    UnreadablePolicyError,
    accesses,
    grants,
    handler_files,
    logical_id,
    resource_ids,
    saved,
    ungranted,
)
from infra.local.template import Template, load_template
from infra.local.workers import ACCESS_LOG_DIR

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
REGION: Final = "eu-west-1"


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


def test_the_other_services_calls_are_the_actions_and_resources_iam_names() -> None:
    machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:consentry-analysis"
    execution = f"arn:aws:states:{REGION}:123456789012:execution:consentry-analysis:run-1"
    assert accesses("stepfunctions", "StartExecution", {"stateMachineArn": machine}) == [
        ("StartExecution", machine)
    ]
    assert accesses("stepfunctions", "DescribeExecution", {"executionArn": execution}) == [
        ("DescribeExecution", execution)
    ]
    assert accesses("lambda", "Invoke", {"FunctionName": "f", "Payload": b"{}"}) == [
        ("InvokeFunction", "f")
    ]
    entries = [{"EventBusName": "bus"}, {"Source": "s"}, {"EventBusName": "bus"}]
    assert accesses("events", "PutEvents", {"Entries": entries}) == [
        ("PutEvents", "bus"),
        ("PutEvents", "default"),  # an entry without a bus goes to the default one
    ]
    assert accesses("sqs", "SendMessage", {"QueueUrl": "https://q/1/dlq"}) == [
        ("SendMessage", "https://q/1/dlq")
    ]
    mail = {"Source": "Consentry <no-reply@example.com>", "Destination": {}, "Message": {}}
    assert accesses("ses", "SendEmail", mail) == [("SendEmail", "no-reply@example.com")]
    assert accesses("sesv2", "SendEmail", {"FromEmailAddress": "a@b.example"}) == [
        ("SendEmail", "a@b.example")
    ]
    suppressed = {"EmailAddress": "x@example.com", "Reason": "BOUNCE"}
    assert accesses("sesv2", "PutSuppressedDestination", suppressed) == [
        ("PutSuppressedDestination", ANY)  # IAM grants it on every resource only
    ]
    assert accesses("pinpoint-sms-voice-v2", "SendTextMessage", {}) == [("SendTextMessage", ANY)]
    listed = {"UserPoolId": "eu-west-1_abc", "Username": "u"}
    assert accesses("cognito-idp", "AdminListGroupsForUser", listed) == [
        ("AdminListGroupsForUser", "userpool/eu-west-1_abc")
    ]
    signing_in = {"ClientId": "c", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {}}
    assert accesses("cognito-idp", "InitiateAuth", signing_in) == []  # no IAM: a public API


def test_a_state_machine_function_bus_queue_identity_and_pool_are_known_as_calls_name_them() -> (
    None
):
    names = resource_ids(TEMPLATE)
    account = f"{REGION}:123456789012"
    assert logical_id(f"arn:aws:states:{account}:stateMachine:consentry-analysis", names) == (
        "AnalysisStateMachine"
    )
    assert logical_id(f"arn:aws:states:{account}:execution:consentry-analysis:r", names) == (
        "AnalysisStateMachine"
    )
    assert logical_id("consentry-ImportFunction", names) == "ImportFunction"
    assert logical_id("consentry-ImportFunction:live", names) == "ImportFunction"
    function = f"arn:aws:lambda:{account}:function:consentry-ImportFunction:3"
    assert logical_id(function, names) == "ImportFunction"
    bus = f"arn:aws:events:{account}:event-bus/consentry-consent-events"
    assert logical_id(bus, names) == "EventBus"
    queue = f"https://sqs.{REGION}.amazonaws.com/123456789012/consentry-PublisherDeadLetterQueue"
    assert logical_id(queue, names) == "PublisherDeadLetterQueue"
    # The template's SES identity is a parameter (a domain, by default): an address of
    # that domain sends as it.
    assert logical_id("no-reply@example.com", names) == "SenderIdentity"
    assert logical_id("no-reply@elsewhere.example", names) is None
    assert logical_id("userpool/eu-west-1_made-up", names) == "ConsoleUserPool"
    assert logical_id(ANY, names) == ANY
    assert logical_id(f"arn:aws:states:{account}:stateMachine:another", names) is None
    assert logical_id("arn:aws", names) is None


def test_a_grant_on_every_resource_allows_any_and_an_action_on_every_resource_needs_one() -> None:
    machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:consentry-analysis"
    execution = machine.replace("stateMachine:", "execution:") + ":run-1"
    recorded = [
        Access("ConsentFunction", "states", "StartExecution", machine),
        Access("ConsentFunction", "states", "DescribeExecution", execution),
        Access("ConsentFunction", "states", "StopExecution", execution),
        Access("ConsentFunction", "lambda", "InvokeFunction", "consentry-ImportFunction"),
        Access("ConsentFunction", "lambda", "InvokeFunction", "consentry-PublisherFunction"),
        Access("PublisherFunction", "events", "PutEvents", "consentry-consent-events"),
        Access("PublisherFunction", "sqs", "SendMessage", "consentry-PublisherDeadLetterQueue"),
        Access("LandingFunction", "ses", "SendEmail", "no-reply@example.com"),
        Access("LandingFunction", "ses", "PutSuppressedDestination", ANY),
        Access("SesSuppressionFunction", "ses", "PutSuppressedDestination", ANY),
        Access("QuarantineFunction", "sms-voice", "SendTextMessage", ANY),
        Access("ConsoleFunction", "cognito-idp", "AdminListGroupsForUser", "userpool/x"),
        Access("ConsoleFunction", "cognito-idp", "AdminAddUserToGroup", "userpool/x"),
        # Resources the template does not have: no policy names them.
        Access("LandingFunction", "ses", "SendEmail", "no-reply@elsewhere.example"),
        Access("PublisherFunction", "events", "PutEvents", "default"),
        Access("ConsentFunction", "lambda", "InvokeFunction", "someone-elses-function"),
        # ... except where tests make their own, under names of their own.
        Access("PublisherFunction", "sqs", "SendMessage", "https://sqs/1/a-test-queue"),
    ]
    assert ungranted(TEMPLATE, recorded) == [
        "ConsentFunction: lambda:InvokeFunction on PublisherFunction",
        "ConsentFunction: lambda:InvokeFunction on someone-elses-function",
        "ConsentFunction: states:StopExecution on AnalysisStateMachine",
        "ConsoleFunction: cognito-idp:AdminAddUserToGroup on ConsoleUserPool",
        "LandingFunction: ses:PutSuppressedDestination on *",
        "LandingFunction: ses:SendEmail on no-reply@elsewhere.example",
        "PublisherFunction: events:PutEvents on default",
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
    table = f"arn:aws:dynamodb:{REGION}:123456789012:table/consentry-ProfilesTable"
    assert logical_id(table, names) == "ProfilesTable"
    assert logical_id("someone-elses-table", names) is None
    assert logical_id("consentry-ProfilesTable-copy", names) is None
    assert logical_id(arn.replace("-AbCdEf", "-copy-AbCdEf"), names) is None


def test_a_copy_reads_its_source_and_a_version_is_its_own_action() -> None:
    copy = {"Bucket": "to", "Key": "k", "CopySource": {"Bucket": "from", "Key": "s"}}
    assert accesses("s3", "CopyObject", copy) == [("PutObject", "to"), ("GetObject", "from")]
    assert accesses("s3", "CopyObject", {**copy, "CopySource": "from/s"})[1] == (
        "GetObject",
        "from",
    )
    versioned = {"Bucket": "b", "Key": "k", "VersionId": "v"}
    assert accesses("s3", "GetObject", versioned) == [("GetObjectVersion", "b")]
    assert accesses("dynamodb", "ExecuteStatement", {"Statement": "SELECT"}) == [
        ("PartiQL", "(a PartiQL statement)")
    ]


def _template(statement: dict[str, Any]) -> Template:
    return Template(
        ROOT / "template.yaml",
        {
            "Resources": {
                "F": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "Handler": "f.handler.run",
                        "Policies": [{"Statement": [statement]}],
                    },
                },
                "ProfilesTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            }
        },
    )


def test_a_statement_allows_its_actions_wildcards_too_and_one_it_cannot_read_is_refused() -> None:
    wildcard = {
        "Effect": "Allow",
        "Action": ["dynamodb:Get*"],
        "Resource": {"Fn::GetAtt": ["ProfilesTable", "Arn"]},
    }
    read = Access("F", "dynamodb", "GetItem", "consentry-ProfilesTable")
    write = Access("F", "dynamodb", "PutItem", "consentry-ProfilesTable")
    assert ungranted(_template(wildcard), [read, write]) == ["F: dynamodb:PutItem on ProfilesTable"]
    for unread in (
        {**wildcard, "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
        {**wildcard, "Effect": "Deny"},
        {"Effect": "Allow", "NotAction": ["s3:*"], "Resource": "*"},
    ):
        with pytest.raises(UnreadablePolicyError):
            ungranted(_template(unread), [read])


def test_a_function_not_in_the_template_is_named() -> None:
    stray = Access("ProbeFunction", "s3", "ListBucket", "consentry-databucket")
    assert ungranted(TEMPLATE, [stray]) == ["ProbeFunction: not a function of the template"]


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


def _handler_starting_threads() -> None:
    """Calls made on threads this "handler" starts, with no frame of it on their stacks:
    a pool's, a thread's, s3transfer's."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key: dict[str, Any] = {
        "TableName": "consentry-ProfilesTable",
        "Key": {"profileId": {"S": "p"}},
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(functools.partial(dynamodb.get_item, **key)).result()
        pool.submit(
            dynamodb.query,
            TableName="consentry-AddressesTable",
            KeyConditionExpression="a = :a",
            ExpressionAttributeValues={":a": {"S": "x"}},
        ).exception()
    thread = threading.Thread(target=dynamodb.scan, kwargs={"TableName": "consentry-ProfilesTable"})
    thread.start()
    thread.join()
    s3 = boto3.client("s3", region_name=REGION)
    s3.upload_fileobj(io.BytesIO(b"row"), "consentry-databucket", "k")


def _profiles_table() -> None:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName="consentry-ProfilesTable",
        KeySchema=[{"AttributeName": "profileId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "profileId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@mock_aws
def test_a_call_is_the_function_whose_handler_module_made_it(tmp_path: Path) -> None:
    _profiles_table()
    log = AccessLog({Path(__file__).resolve(): "LandingFunction"}, saved_to=tmp_path / "a.json")
    with log.installed():
        _handler_call()
    other = AccessLog({Path("/elsewhere/handler.py"): "LandingFunction"})
    with other.installed():
        _handler_call()
        with pytest.raises(RuntimeError, match="installed already"):
            other.install()
    _handler_call()  # neither records once uninstalled
    expected = {Access("LandingFunction", "dynamodb", "GetItem", "consentry-ProfilesTable")}
    assert log.recorded == expected
    assert other.recorded == set()
    log.save()
    assert saved(tmp_path) == expected


@mock_aws
def test_a_call_on_a_thread_the_function_started_is_the_functions() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="consentry-databucket", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    _profiles_table()
    log = AccessLog({Path(__file__).resolve(): "AnalyzeClassifyFunction"})
    start, submit = threading.Thread.start, ThreadPoolExecutor.submit
    with log.installed():
        _handler_starting_threads()
    function = "AnalyzeClassifyFunction"
    assert log.recorded == {
        Access(function, "dynamodb", "GetItem", "consentry-ProfilesTable"),
        Access(function, "dynamodb", "Query", "consentry-AddressesTable"),
        Access(function, "dynamodb", "Scan", "consentry-ProfilesTable"),
        Access(function, "s3", "PutObject", "consentry-databucket"),
    }
    assert (threading.Thread.start, ThreadPoolExecutor.submit) == (start, submit)  # put back


def _module(path: Path, code: str) -> Any:
    path.write_text(textwrap.dedent(code))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@mock_aws
def test_what_moto_does_while_it_answers_is_not_the_callers_but_a_function_it_runs_is(
    tmp_path: Path,
) -> None:
    """moto answers in the caller's process: its state machine engine starts threads and
    invokes functions (the local stack runs them here too) while the caller waits."""
    _profiles_table()
    caller = _module(
        tmp_path / "caller.py",
        """
        def handler(dynamodb):
            dynamodb.get_item(TableName="consentry-ProfilesTable", Key={"profileId": {"S": "p"}})
        """,
    )
    invoked = _module(
        tmp_path / "invoked.py",
        """
        import boto3

        def handler():
            boto3.client("dynamodb", region_name="eu-west-1").scan(
                TableName="consentry-ProfilesTable"
            )
        """,
    )
    log = AccessLog(
        {
            (tmp_path / "caller.py").resolve(): "ConsentFunction",
            (tmp_path / "invoked.py").resolve(): "AnalyzePlanFunction",
        }
    )

    def engine(**_: Any) -> None:
        """The service at work while it answers: its own calls, on a thread it starts
        too, and a function it invokes."""
        service = boto3.client("dynamodb", region_name=REGION)
        thread = threading.Thread(
            target=service.describe_table, kwargs={"TableName": "consentry-ProfilesTable"}
        )
        thread.start()
        thread.join()
        service.describe_table(TableName="consentry-ProfilesTable")
        invoked.handler()

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.meta.events.register("before-parameter-build.dynamodb.GetItem", engine)
    with log.installed():
        caller.handler(dynamodb)

    assert log.recorded == {
        Access("ConsentFunction", "dynamodb", "GetItem", "consentry-ProfilesTable"),
        Access("AnalyzePlanFunction", "dynamodb", "Scan", "consentry-ProfilesTable"),
    }


@mock_aws
def test_a_secret_the_cache_answers_is_still_read_by_the_function_asking(tmp_path: Path) -> None:
    """On AWS each function has its own cache; in one process, another's would hide the
    read of a function whose policies do not name the secret."""
    from aws_lambda_powertools.utilities.parameters.secrets import SecretsProvider

    from tests.integration.conftest import clear_parameter_caches

    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="consentry-SigningKeys", SecretString="{}"
    )
    code = """
        from aws_lambda_powertools.utilities import parameters

        def handler():
            return parameters.get_secret("consentry-SigningKeys", max_age=300)
        """
    first, second = _module(tmp_path / "first.py", code), _module(tmp_path / "second.py", code)
    log = AccessLog(
        {
            (tmp_path / "first.py").resolve(): "LandingFunction",
            (tmp_path / "second.py").resolve(): "PublisherFunction",
        }
    )
    before = vars(SecretsProvider).get("get")  # the run's own log has it wrapped
    clear_parameter_caches()
    with log.installed():
        first.handler()
        second.handler()  # from the cache the first filled
    clear_parameter_caches()

    assert log.recorded == {
        Access(function, "secretsmanager", "GetSecretValue", "consentry-SigningKeys")
        for function in ("LandingFunction", "PublisherFunction")
    }
    assert vars(SecretsProvider).get("get") is before  # put back


def _python(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_run_with_a_call_no_policy_allows_fails_and_names_it(tmp_path: Path) -> None:
    """The hooks tests/conftest.py uses, in a run of their own: one test adds a call the
    landing function may not make; the run fails although every test passed."""
    (tmp_path / "conftest.py").write_text(
        "from tests.access_check import pytest_runtest_teardown, pytest_sessionfinish, "
        "pytest_sessionstart, summary\n\n"
        "def pytest_terminal_summary(terminalreporter):\n"
        "    summary(terminalreporter)\n"
    )
    (tmp_path / "test_probe.py").write_text(
        "import os\n"
        "from infra.local.access import Access\n"
        "from tests import access_check\n\n"
        "def test_probe():\n"
        "    access = os.environ['PROBE_ACCESS'].split(',')\n"
        "    access_check.log().recorded.add(Access(*access))\n"
    )

    def run(access: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PROBE_ACCESS": access}
        env.pop(ACCESS_LOG_DIR, None)
        return _python(
            ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)], tmp_path, env
        )

    denied = run("LandingFunction,s3,PutObject,consentry-databucket")
    assert denied.returncode == 1, denied.stdout[-2000:]
    assert "1 passed" in denied.stdout
    assert "LandingFunction: s3:PutObject on DataBucket" in denied.stdout
    allowed = run("LandingFunction,dynamodb,GetItem,consentry-ProfilesTable")
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    assert "iam_held.LandingFunction=1" in allowed.stdout


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
    result = _python(["-c", script], ROOT, env)
    assert result.returncode == 0, result.stderr[-2000:]
    answers: list[Any] = [json.loads(line) for line in result.stdout.splitlines()]
    assert answers == ["ready", ["result", {"ok": True}]]
    assert saved(log_dir) == {Access("ProbeFunction", "s3", "ListBucket", "consentry-databucket")}
