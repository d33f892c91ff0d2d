"""`consentry analyze`: upload, start, follow and report, against the state machine on
moto's engine in this process (what `make run` does on the local stack)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from consentry.addresses.status import AddressStatus
from consentry_cli import main as cli
from consentry_cli.analyze import Analysis, AnalysisFailedError, run
from consentry_cli.progress import Bar, Progress, progress
from consentry_cli.stack import Stack, StackNotFoundError, local_stack
from tests.conftest import REGION
from tests.integration.analysis_support import (
    analysis_state_machine,
    moto_running_executions,
    opt_out,
    set_address,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture
def dynamodb() -> Iterator[DynamoDBClient]:
    with moto_running_executions() as client:
        yield client


@pytest.fixture
def stack(table_names: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The state machine on moto, as the command finds a stack."""
    with analysis_state_machine(monkeypatch) as stack:
        yield Stack("test", stack.state_machine_arn, stack.bucket, REGION)


@pytest.fixture
def audience(tmp_path: Path) -> Path:
    path = tmp_path / "spring sale.csv"
    path.write_text(
        "profile_id,address,city\n"
        "p1,a@example.com,Gent\n"
        "p2,b@example.com,Lille\n"
        "p3,q@example.com,Köln\n"
        "p4,,Utrecht\n"
    )
    return path


def test_an_analysis_is_uploaded_followed_and_reported_as_a_table(
    stack: Stack, audience: Path
) -> None:
    opt_out("p2")
    set_address("q@example.com", AddressStatus.QUARANTINE)
    out, err = io.StringIO(), io.StringIO()

    record = run(Analysis(audience=audience, channel="email", delivery_id="cli-1"), stack, out, err)

    assert record["status"] == "SUCCEEDED"
    table = out.getvalue()
    assert "Analysis of delivery cli-1: SUCCEEDED" in table
    for line in ("profile_opted_out", "address_quarantined", "address_missing"):
        assert any(row.split()[:2] == [line, "1"] for row in table.splitlines()), line
    assert any(row.split()[:3] == ["target", "1", "25.00"] for row in table.splitlines())
    assert "(1 part)" in table
    assert "SUCCEEDED in" in err.getvalue()
    key = record["target"]["uri"].split("/", 3)[3] + "part-00000.csv"
    target = boto3.client("s3", region_name=REGION).get_object(Bucket=stack.bucket, Key=key)
    assert target["Body"].read().decode() == "profile_id,address,city\np1,a@example.com,Gent\n"


def test_the_delivery_id_defaults_to_the_file_name_and_each_run_has_its_own_upload(
    stack: Stack, audience: Path
) -> None:
    first = run(Analysis(audience=audience, channel="email"), stack, io.StringIO(), io.StringIO())

    assert first["deliveryId"].startswith("spring-sale-")
    uploads = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=stack.bucket, Prefix=f"audiences/{first['deliveryId']}/"
    )["Contents"]
    assert [u["Key"].rsplit("/", 1)[-1] for u in uploads] == ["spring sale.csv"]


def test_a_failed_analysis_raises_with_its_error_and_cause(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("profile_id,address\np1\n")

    with pytest.raises(AnalysisFailedError) as raised:
        run(
            Analysis(audience=bad, channel="email", delivery_id="cli-2"),
            stack,
            io.StringIO(),
            io.StringIO(),
        )

    assert raised.value.error == "AudienceError"
    assert "row 1 has 1 fields" in raised.value.cause


def test_progress_follows_the_steps_and_the_map_run(stack: Stack, audience: Path) -> None:
    record = run(
        Analysis(audience=audience, channel="email", delivery_id="cli-3"),
        stack,
        io.StringIO(),
        io.StringIO(),
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)

    state = progress(sfn, record["executionArn"])

    assert state.step == "Summarize"
    assert state.fraction == pytest.approx(2 / 3)


class _History:
    """A Step Functions client that answers with one page of history."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}


def _entered(name: str) -> dict[str, Any]:
    return {"type": "StateEntered", "stateEnteredEventDetails": {"name": name}}


def _exited(name: str, output: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "StateExited",
        "stateExitedEventDetails": {"name": name, "output": json.dumps(output)},
    }


COUNTING = {"deliveryId": "d", "count": {"needed": True, "ranges": [{"range": 0}] * 4}}
SIZED = {"deliveryId": "d", "partition": {"needed": True, "chunks": []}, "assemble": True}


def test_progress_through_the_count_of_a_large_audience() -> None:
    counting = [
        _entered("Plan"),
        _exited("Plan", COUNTING),
        _entered("Count"),
        {"type": "MapStateStarted", "mapStateStartedEventDetails": {"length": 4}},
        {"type": "MapIterationSucceeded"},
        {"type": "MapIterationSucceeded"},
    ]
    partitioning = [
        *counting,
        _entered("Sized"),
        _exited("Sized", SIZED),
        _entered("Partition"),
        {"type": "MapStateStarted", "mapStateStartedEventDetails": {"length": 8}},
    ]

    # Plan, Count, Partition, Classify, Assemble, Summarize: Partition and Assemble count
    # until Sized says whether they run.
    assert progress(_History(counting), "arn") == Progress("Count", 2, 4, 1.5 / 6)
    assert progress(_History(partitioning), "arn") == Progress("Partition", 0, 8, 2 / 6)
    one_shard = {"partition": {"needed": False, "chunks": []}, "assemble": False}
    summarizing = [*counting, _exited("Sized", one_shard), _entered("Summarize")]
    # Plan, Count, Classify, Summarize.
    assert progress(_History(summarizing), "arn") == Progress("Summarize", 0, 1, 3 / 4)


def test_the_bar_draws_in_place_on_a_terminal_and_a_line_per_step_elsewhere() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        bar = Bar(stream)
        bar.show(Progress("Classify", 3, 7, 0.5))
        bar.show(Progress("Classify", 5, 7, 0.6))
        bar.close("SUCCEEDED")

    assert terminal.getvalue().count("\r[###############---------------]") == 1
    assert "3/7" in terminal.getvalue()
    assert log.getvalue().count("Classify") == 1


def test_without_a_local_stack_or_a_file_the_command_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audience = tmp_path / "a.csv"
    audience.write_text("profile_id,address\n")

    missing_file = cli.main(["analyze", str(tmp_path / "none.csv"), "--channel", "email"])
    no_stack = cli.main(
        ["analyze", str(audience), "--channel", "email", "--state-file", str(tmp_path / "x.json")]
    )

    assert (missing_file, no_stack) == (2, 2)
    assert "make run" in capsys.readouterr().err


def test_the_local_stack_is_read_from_its_state_file(tmp_path: Path) -> None:
    state = tmp_path / "demo.json"
    state.write_text(
        json.dumps(
            {
                "state_machine_arn": "arn:sm",
                "bucket": "b",
                "region": "eu-west-1",
                "aws_endpoint_url": "http://127.0.0.1:4566",
            }
        )
    )

    found = local_stack(state)

    assert (found.state_machine_arn, found.bucket, found.endpoint_url) == (
        "arn:sm",
        "b",
        "http://127.0.0.1:4566",
    )
    with pytest.raises(StackNotFoundError):
        local_stack(tmp_path / "none.json")
