"""The template, the models, the settings, the handlers and the ASL agree with each other."""

import importlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from pynamodb.models import Model

import consentry.addresses.tables
import consentry.analysis.tables
import consentry.consent.tables
import consentry.events.latency
import consentry.imports.tables
import consentry.privacy.tables
import consentry.reporting.tables  # noqa: F401 (each declares its tables on import)
import console.revocations  # noqa: F401 (as do the console's)
from consentry.core.persistence import declared_tables
from consentry.core.settings import required_names, setting_names
from infra.local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TABLES = declared_tables()


TEMPLATE = load_template(ROOT / "template.yaml").body
RESOURCES = TEMPLATE["Resources"]
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def table_of_setting(field: str) -> dict[str, Any]:
    reference = GLOBAL_ENV[field.upper()]
    logical_id = reference["Ref"]
    resource = RESOURCES[logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table", logical_id
    properties: dict[str, Any] = resource["Properties"]
    return properties


def keys(key_schema: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {k["AttributeName"]: k["KeyType"] for k in key_schema}


def indexes(gsis: Iterable[Mapping[str, Any]]) -> dict[str, tuple[dict[str, str], str, list[str]]]:
    """Index name -> (keys, projection type, projected attributes), from the template's
    PascalCase entries or pynamodb's snake_case schema alike."""
    summary = {}
    for index in gsis:
        name = index.get("IndexName") or index["index_name"]
        projection = index.get("Projection") or index["projection"]
        summary[name] = (
            keys(index.get("KeySchema") or index["key_schema"]),
            projection["ProjectionType"],
            sorted(projection.get("NonKeyAttributes", [])),
        )
    return summary


@pytest.mark.parametrize(("model", "field"), TABLES, ids=[m.__name__ for m, _ in TABLES])
def test_each_model_matches_its_table(model: type[Model], field: str) -> None:
    table = table_of_setting(field)
    schema = model._get_schema()  # what pynamodb would create: the model's view of the table

    assert keys(schema["key_schema"]) == keys(table["KeySchema"])
    assert sorted(schema["attribute_definitions"], key=str) == sorted(
        table["AttributeDefinitions"], key=str
    )
    assert indexes(schema["global_secondary_indexes"]) == indexes(
        table.get("GlobalSecondaryIndexes", [])
    )


@pytest.mark.parametrize(("model", "field"), TABLES, ids=[m.__name__ for m, _ in TABLES])
def test_ttl_attributes_are_the_models_ttl_attributes(model: type[Model], field: str) -> None:
    table = table_of_setting(field)
    ttl = table.get("TimeToLiveSpecification", {}).get("AttributeName")
    model_ttl = [
        a.attr_name for a in model.get_attributes().values() if type(a).__name__ == "TTLAttribute"
    ]

    assert model_ttl == ([ttl] if ttl else [])


def test_every_table_of_the_template_has_a_setting() -> None:
    tables = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::DynamoDB::Table"}
    referenced = {v["Ref"] for v in GLOBAL_ENV.values() if isinstance(v, dict) and "Ref" in v}

    assert tables <= referenced


def test_the_idempotency_table_has_powertools_key_and_ttl() -> None:
    table = table_of_setting("idempotency_table")

    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"]["AttributeName"] == "expiration"


def test_settings_and_template_environment_name_the_same_variables() -> None:
    required = {name.upper() for name in required_names()}
    required.discard("AWS_REGION")  # Lambda sets it
    every_setting = {name.upper() for name in setting_names()}
    function_env = set(GLOBAL_ENV)
    for function in FUNCTIONS.values():
        function_env |= set(function["Properties"].get("Environment", {}).get("Variables", {}))

    assert required <= set(GLOBAL_ENV)
    assert {v for v in function_env if not v.startswith("POWERTOOLS_")} <= every_setting | {
        "SHARD_ROWS"
    }


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_path_resolves_to_a_callable(logical_id: str) -> None:
    module_name, _, attr = FUNCTIONS[logical_id]["Properties"]["Handler"].rpartition(".")

    module = importlib.import_module(module_name)

    assert callable(getattr(module, attr))


def test_every_function_follows_the_shared_runtime() -> None:
    function_globals = TEMPLATE["Globals"]["Function"]

    assert (function_globals["CodeUri"], function_globals["Runtime"]) == (
        "functions/",
        "python3.13",
    )
    assert function_globals["Architectures"] == ["arm64"]
    for function in FUNCTIONS.values():
        assert {"CodeUri", "Runtime", "Architectures"}.isdisjoint(function["Properties"])


def test_asl_placeholders_are_exactly_the_definition_substitutions() -> None:
    machines = [v for v in RESOURCES.values() if v["Type"] == "AWS::Serverless::StateMachine"]
    assert machines
    for machine in machines:
        properties = machine["Properties"]
        text = (ROOT / properties["DefinitionUri"]).read_text()

        placeholders = set(re.findall(r"\$\{(\w+)\}", text))

        assert placeholders == set(properties["DefinitionSubstitutions"])
        definition = json.loads(text)  # valid JSON before substitution too
        assert definition["StartAt"] in definition["States"]


def test_analysis_lambda_tasks_name_only_analyze_functions() -> None:
    machine = RESOURCES["AnalysisStateMachine"]["Properties"]
    for name, value in machine["DefinitionSubstitutions"].items():
        if name.endswith("FunctionArn"):
            logical_id = value["Fn::GetAtt"][0]
            assert FUNCTIONS[logical_id]["Properties"]["Handler"].startswith("analyze."), name


def test_every_table_setting_but_powertools_idempotency_has_one_model() -> None:
    table_fields = {name for name in setting_names() if name.endswith("_table")}

    assert sorted(field for _, field in TABLES) == sorted(table_fields - {"idempotency_table"})
