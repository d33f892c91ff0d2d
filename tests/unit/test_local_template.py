"""The local stack reads template.yaml: short tags, SAM globals, intrinsic functions."""

import json
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from consentry.consent.tokens import Keyring
from infra.local.environment import (
    EnvironmentConflictError,
    function_environment,
    stack_environment,
)
from infra.local.lambdas import local_functions
from infra.local.resources import (
    CREATORS,
    generate_secret_string,
    physical_name,
    state_machine_definition,
)
from infra.local.schedules import Scheduler, rate_schedules
from infra.local.template import (
    NotCreatedError,
    Physical,
    Resolver,
    Template,
    UnsupportedError,
    load_template,
    merge_globals,
)
from tests.conftest import ROOT

REGION = "eu-west-1"

SMALL = """
Parameters:
  Stage: { Type: String, Default: prod }
  Days: { Type: Number, Default: 90 }
  Flag: { Type: String, Default: "true" }
  Required: { Type: String }
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  NotProd: !Not [!Condition IsProd]
Globals:
  Function:
    CodeUri: functions/
    MemorySize: 512
    Layers: [global-layer]
    Environment:
      Variables:
        TABLE: !Ref Table
        DAYS: !Ref Days
        FLAG: !Ref Flag
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Queue:
    Type: AWS::SQS::Queue
  ProdOnly:
    Type: AWS::SNS::Topic
    Condition: NotProd
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.mod.handler
      MemorySize: 1024
      Layers: [own-layer]
      Environment:
        Variables:
          POWERTOOLS_SERVICE_NAME: one
          QUEUE_ARN: !GetAtt Queue.Arn
      Events:
        Web: { Type: Api, Properties: { Path: "/x/{proxy+}", Method: ANY } }
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Handler: pkg.other.handler
      Environment:
        Variables:
          POWERTOOLS_SERVICE_NAME: two
Outputs:
  TableName: { Value: !Ref Table }
  TopicArn: { Value: !Ref ProdOnly }
"""


@pytest.fixture
def small(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(SMALL))
    return load_template(path)


@pytest.fixture
def created() -> dict[str, Physical]:
    return {
        "Table": Physical(ref="consentry-Table", attributes={"Arn": "arn:table"}),
        "Queue": Physical(ref="http://queue", attributes={"Arn": "arn:queue", "QueueName": "q"}),
    }


def resolver_for(template: Template, physical: Mapping[str, Physical]) -> Resolver:
    return Resolver(template, region=REGION, physical=physical)


def test_short_tags_load_in_their_long_form(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "A: !Ref X\nB: !GetAtt Y.Arn\nC: !Sub '${X}-a'\nD: !Equals [!Ref X, b]\n"
        "E: !If [Cond, 1, 2]\nF: !Join ['', [a, !Ref X]]\n"
    )

    body = load_template(path).body

    assert body == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": "${X}-a"},
        "D": {"Fn::Equals": [{"Ref": "X"}, "b"]},
        "E": {"Fn::If": ["Cond", 1, 2]},
        "F": {"Fn::Join": ["", ["a", {"Ref": "X"}]]},
    }


def test_globals_merge_maps_concatenate_lists_and_yield_to_the_function() -> None:
    merged = merge_globals(
        {"MemorySize": 512, "Layers": ["g"], "Environment": {"Variables": {"A": "1", "B": "1"}}},
        {"MemorySize": 1024, "Layers": ["f"], "Environment": {"Variables": {"B": "2"}}},
    )

    assert merged == {
        "MemorySize": 1024,
        "Layers": ["g", "f"],
        "Environment": {"Variables": {"A": "1", "B": "2"}},
    }


def test_a_function_gets_the_globals_and_other_resources_do_not(small: Template) -> None:
    function = small.properties("Fn")

    assert function["CodeUri"] == "functions/"
    assert function["MemorySize"] == 1024
    assert set(function["Environment"]["Variables"]) == {
        "TABLE",
        "DAYS",
        "FLAG",
        "POWERTOOLS_SERVICE_NAME",
        "QUEUE_ARN",
    }
    assert small.properties("Table") == {}


def test_refs_resolve_to_parameter_defaults_pseudo_parameters_and_created_resources(
    small: Template, created: dict[str, Physical]
) -> None:
    resolver = resolver_for(small, created)

    assert resolver.resolve({"Ref": "Days"}) == 90
    assert resolver.resolve_str({"Ref": "Days"}) == "90"
    assert resolver.resolve({"Ref": "AWS::Region"}) == REGION
    assert resolver.resolve({"Ref": "Table"}) == "consentry-Table"
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:queue"


def test_sub_resolves_refs_attributes_variables_and_keeps_escaped_literals(
    small: Template, created: dict[str, Physical]
) -> None:
    resolver = resolver_for(small, created)

    assert (
        resolver.resolve({"Fn::Sub": "${AWS::StackName}/${Table}/${Queue.Arn}/${!Literal}"})
        == "consentry/consentry-Table/arn:queue/${Literal}"
    )
    assert resolver.resolve({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Table"}}]}) == (
        "consentry-Table-prod"
    )


def test_conditions_use_the_parameter_defaults(
    small: Template, created: dict[str, Physical]
) -> None:
    resolver = resolver_for(small, created)

    assert resolver.condition("IsProd") is True
    assert resolver.active("ProdOnly") is False
    assert resolver.resolve({"K": {"Fn::If": ["NotProd", "a", {"Ref": "AWS::NoValue"}]}}) == {}


def test_a_resource_not_created_yet_is_reported_as_such(small: Template) -> None:
    with pytest.raises(NotCreatedError) as raised:
        resolver_for(small, {}).resolve({"Fn::GetAtt": ["Queue", "Arn"]})

    assert raised.value.logical_id == "Queue"


def test_a_parameter_without_a_default_cannot_run_locally(
    small: Template, created: dict[str, Physical]
) -> None:
    with pytest.raises(UnsupportedError, match="Required"):
        resolver_for(small, created).resolve({"Ref": "Required"})


def test_outputs_leave_out_what_was_not_created(
    small: Template, created: dict[str, Physical]
) -> None:
    assert resolver_for(small, created).outputs() == {"TableName": "consentry-Table"}


def test_two_functions_may_differ_only_in_their_service_name(
    small: Template, created: dict[str, Physical]
) -> None:
    resolver = resolver_for(small, created)

    assert function_environment(small, resolver, "Other")["POWERTOOLS_SERVICE_NAME"] == "two"
    assert stack_environment(small, resolver) == {
        "TABLE": "consentry-Table",
        "DAYS": "90",
        "FLAG": "true",
        "QUEUE_ARN": "arn:queue",
    }


def test_two_functions_disagreeing_on_a_variable_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """
            Resources:
              A:
                Type: AWS::Serverless::Function
                Properties: { Environment: { Variables: { X: a } } }
              B:
                Type: AWS::Serverless::Function
                Properties: { Environment: { Variables: { X: b } } }
            """
        )
    )
    template = load_template(path)

    with pytest.raises(EnvironmentConflictError, match="X"):
        stack_environment(template, resolver_for(template, {}))


def test_physical_names_derive_from_logical_ids_and_buckets_are_lower_case() -> None:
    assert physical_name("ProfilesTable", "AWS::DynamoDB::Table") == "consentry-ProfilesTable"
    assert physical_name("DataBucket", "AWS::S3::Bucket") == "consentry-databucket"


def test_a_generated_secret_follows_its_template_and_is_a_usable_keyring() -> None:
    secret = generate_secret_string(
        {
            "SecretStringTemplate": '{"active": "k1"}',
            "GenerateStringKey": "k1",
            "PasswordLength": 64,
            "ExcludePunctuation": True,
        }
    )

    document = json.loads(secret)
    assert document["active"] == "k1"
    assert re.fullmatch(r"[A-Za-z0-9]{64}", document["k1"])
    assert Keyring.from_secret(document).active == "k1"


# ---------------------------------------------------------------- the real template


@pytest.fixture
def project() -> Template:
    return load_template(ROOT / "template.yaml")


@pytest.fixture
def project_resolver(project: Template) -> Resolver:
    """Every resource the stack creates, with made-up physical ids."""
    physical = {
        lid: Physical(
            ref=f"ref:{lid}",
            attributes={"Arn": f"arn:{lid}", "Name": f"name:{lid}", "QueueName": lid},
        )
        for lid, resource in project.resources.items()
        if resource["Type"] in CREATORS
    }
    return resolver_for(project, physical)


def test_every_function_environment_of_the_template_resolves_without_conflict(
    project: Template, project_resolver: Resolver
) -> None:
    environment = stack_environment(project, project_resolver)

    assert environment["PROFILES_TABLE"] == "ref:ProfilesTable"
    assert environment["SIGNING_KEYS_SECRET"] == "ref:SigningKeys"
    assert environment["STATE_MACHINE_ARN"] == "ref:AnalysisStateMachine"
    assert environment["LINK_TTL_DAYS"] == str(project.parameter_defaults()["LinkTtlDays"])
    assert "POWERTOOLS_SERVICE_NAME" not in environment


def test_the_analysis_definition_is_substituted_with_the_function_arns(
    project: Template, project_resolver: Resolver
) -> None:
    (logical_id,) = project.resources_of("AWS::Serverless::StateMachine")

    definition = state_machine_definition(project, project_resolver, logical_id)

    assert "${" not in definition
    states = json.loads(definition)["States"]
    assert states["Plan"]["Parameters"]["FunctionName"] == "arn:AnalyzePlanFunction"
    assert (
        states["RecordFailure"]["Parameters"]["FunctionName"] == "arn:AnalyzeRecordFailureFunction"
    )


def test_the_local_stack_runs_the_rate_schedules_now_and_then_at_their_rate(
    project: Template, project_resolver: Resolver
) -> None:
    functions = {f.logical_id: f for f in local_functions(project, project_resolver)}
    invoked: list[str] = []

    schedules = rate_schedules(project, project_resolver, functions)
    Scheduler(
        schedules, lambda function, _event: invoked.append(function.logical_id)
    ).run_all_once()

    # The daily cron jobs are left to their tests; the snapshot runs every 60 minutes.
    assert [(s.function.logical_id, s.seconds) for s in schedules] == [
        ("SuppressionSnapshotFunction", 3600)
    ]
    assert invoked == ["SuppressionSnapshotFunction"]


def test_a_failed_scheduled_run_waits_for_the_next(
    project: Template, project_resolver: Resolver, capsys: pytest.CaptureFixture[str]
) -> None:
    functions = {f.logical_id: f for f in local_functions(project, project_resolver)}

    def fail(_function: object, _event: object) -> None:
        raise RuntimeError("store down")

    Scheduler(rate_schedules(project, project_resolver, functions), fail).run_all_once()

    assert "schedule SuppressionSnapshotFunction failed: RuntimeError('store down')" in (
        capsys.readouterr().out
    )
