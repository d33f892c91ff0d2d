"""The analysis contract: the committed JSON schemas are the models', the output counts
every cause, and the ASL stays within what moto's engine runs (design.md)."""

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from consentry.analysis.contract import AnalysisRequest, ExclusionCounts
from consentry.analysis.exclusion import ExclusionCause

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "infra" / "statemachine" / "analysis.asl.json").read_text())


def test_the_committed_schemas_match_the_models() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/analysis_schemas.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_the_output_counts_the_eight_causes_in_their_order() -> None:
    assert list(ExclusionCounts.model_fields) == [cause.value for cause in ExclusionCause]


def test_the_input_schema_names_the_contract_fields() -> None:
    schema = json.loads((ROOT / "docs" / "schemas" / "analysis-input.json").read_text())

    assert set(schema["required"]) == {"deliveryId", "channel", "messageClass", "audience"}
    assert set(schema["properties"]) == {
        "deliveryId",
        "channel",
        "messageClass",
        "serviceId",
        "audience",
        "controlGroup",
        "dryRun",
        "force",
    }


def test_the_documented_example_request_is_valid() -> None:
    text = (ROOT / "docs" / "analysis-contract.md").read_text()
    example = text.split("```json\n", 1)[1].split("```", 1)[0]

    assert AnalysisRequest.model_validate_json(example).delivery_id


def states(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from states(processor)


@pytest.mark.parametrize("name", [name for name, _ in states(ASL)])
def test_each_state_stays_within_moto_s_engine(name: str) -> None:
    state = dict(states(ASL))[name]

    assert "ItemBatcher" not in state
    assert state.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("ExecutionType") in (
        None,
        "STANDARD",
    )
    assert not isinstance(state.get("ToleratedFailurePercentage"), int)
    assert "ResultWriter" not in state  # moto writes an empty manifest


def test_the_definition_is_jsonpath_throughout() -> None:
    assert ASL.get("QueryLanguage", "JSONPath") == "JSONPath"


def test_every_task_that_can_fail_is_caught_by_the_failure_path() -> None:
    for name, state in ASL["States"].items():
        if state["Type"] in ("Task", "Map") and name != "RecordFailure":
            assert state["Catch"] == [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}
            ], name
