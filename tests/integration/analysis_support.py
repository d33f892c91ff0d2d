"""The analysis state machine on moto's engine, in this process, with the real ASL file
and the real handlers: what the analysis tests set up and drive.

moto runs executions on its own threads; its Lambda invokes go to the handlers through
the local stack's routing (infra.local.lambdas). Retry waits are recorded, not slept.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import boto3
import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.analysis.run import PLAN_FILE
from consentry.analysis.terms import run_prefix
from consentry.consent.profile_store import record_change, register_profile
from consentry.consent.rules import ConsentChange, Scope
from consentry.consent.service_store import save_service
from consentry.consent.subscriptions import Confirmation, Service, SubscriptionStatus
from consentry.core.settings import get_settings
from consentry.core.types import Action, Address, Channel, ProfileId, ServiceId, Source
from infra.local.aws import MOTO_CONFIG
from infra.local.lambdas import Invoker, local_functions, route_moto_invokes
from infra.local.resources import create_resources
from infra.local.template import Resolver, load_template
from tests.conftest import REGION, ROOT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions.type_defs import (
        DescribeExecutionOutputTypeDef,
        HistoryEventTypeDef,
    )

ANALYZE_FUNCTIONS = (
    "AnalyzePlanFunction",
    "AnalyzeCountFunction",
    "AnalyzePartitionFunction",
    "AnalyzeClassifyFunction",
    "AnalyzeAssembleFunction",
    "AnalyzeSummarizeFunction",
    "AnalyzeRecordFailureFunction",
    "SuppressionSnapshotFunction",
)
STATE_MACHINE = "AnalysisStateMachine"
DONE_TIMEOUT_S = 60
ACTOR = "analysis-test"


@dataclass
class AnalysisStack:
    state_machine_arn: str
    invoker: Invoker
    waits: list[float]
    snapshot_function_name: str
    bucket: str = field(default_factory=lambda: get_settings().data_bucket)

    def __post_init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)

    def take_snapshots(self) -> dict[str, Any]:
        """Take and store every channel's suppression snapshot, as the schedule does."""
        function = self.invoker.function(self.snapshot_function_name)
        assert function is not None
        result: dict[str, Any] = self.invoker.invoke(function, {})
        return result

    def upload(self, rows: list[dict[str, str]] | str, key: str = "audiences/test.csv") -> str:
        """Put an audience in the data bucket: rows as CSV, or text as it is."""
        if isinstance(rows, str):
            body = rows
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            body = buffer.getvalue()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
        return f"s3://{self.bucket}/{key}"

    def request(self, delivery_id: str, uri: str, **fields: Any) -> dict[str, Any]:
        audience = {"uri": uri, "format": "csv", **fields.pop("audience", {})}
        return {
            "deliveryId": delivery_id,
            "channel": "email",
            "messageClass": "marketing",
            "audience": audience,
            **fields,
        }

    def run(self, execution_input: dict[str, Any] | str, name: str | None = None) -> Execution:
        name = name or f"test-{time.monotonic_ns()}"
        text = execution_input if isinstance(execution_input, str) else json.dumps(execution_input)
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=text
        )["executionArn"]
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not end"
            time.sleep(0.05)
        return Execution(self, arn, described)

    def settle(self) -> None:
        """Wait for every execution to end: a test must not leave one running into the next."""
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while self.sfn.list_executions(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
        )["executions"]:
            assert time.monotonic() < deadline, "an execution did not end"
            time.sleep(0.05)

    def text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


@dataclass
class Execution:
    stack: AnalysisStack
    arn: str
    described: DescribeExecutionOutputTypeDef

    @property
    def status(self) -> str:
        return str(self.described["status"])

    @property
    def output(self) -> dict[str, Any]:
        output: dict[str, Any] = json.loads(self.described["output"])
        return output

    @property
    def error(self) -> str | None:
        return self.described.get("error")

    @property
    def cause(self) -> str | None:
        return self.described.get("cause")

    def plan(self) -> dict[str, Any]:
        """The plan the run left under its prefix (`plan.json`)."""
        prefix = run_prefix(self.output["deliveryId"], self.arn)
        plan: dict[str, Any] = json.loads(self.stack.text(prefix + PLAN_FILE))
        return plan

    def history(self) -> list[HistoryEventTypeDef]:
        return self.stack.sfn.get_execution_history(executionArn=self.arn, maxResults=1000)[
            "events"
        ]

    def invoked(self) -> list[str]:
        """The logical ids of the functions the execution's own tasks invoked, in order."""
        names = []
        for event in self.history():
            if event["type"] == "TaskScheduled":
                function = json.loads(event["taskScheduledEventDetails"]["parameters"])[
                    "FunctionName"
                ]
                names.append(function.rsplit(":consentry-", 1)[-1])
        return names

    def target_rows(self) -> list[str]:
        """The target's lines over all parts in order (a CSV header once)."""
        target = self.output["target"]
        prefix = target["uri"].removeprefix(f"s3://{self.stack.bucket}/")
        keys = sorted(self.stack.keys(prefix))
        assert len(keys) == target["parts"]
        lines: list[str] = []
        for number, key in enumerate(keys):
            part = self.stack.text(key).splitlines()
            headed = key.endswith(".csv") and number > 0  # each CSV part starts with the header
            lines += part[1:] if headed else part
        return lines

    def exclusions(self) -> list[dict[str, str]]:
        prefix = self.output["exclusionLog"]["uri"].removeprefix(f"s3://{self.stack.bucket}/")
        found: list[dict[str, str]] = []
        for key in sorted(self.stack.keys(prefix)):
            found += list(csv.DictReader(io.StringIO(self.stack.text(key))))
        return sorted(found, key=lambda row: int(row["row"]))


@contextmanager
def moto_running_executions() -> Iterator[DynamoDBClient]:
    """The package's moto setup (a `dynamodb` fixture override), with moto's Step
    Functions engine running executions."""
    with mock_aws(config=cast(DefaultConfig, MOTO_CONFIG)):
        yield boto3.client("dynamodb", region_name=REGION)


@contextmanager
def analysis_state_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalysisStack]:
    """The analysis state machine and its functions on moto; no execution outlives it."""
    stack, undo = start_analysis_stack(monkeypatch)
    try:
        yield stack
    finally:
        stack.settle()
        undo()


def start_analysis_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[AnalysisStack, Callable[[], None]]:
    """Create the analyze functions and the state machine in moto (already mocked)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.set_config(MOTO_CONFIG)
    waits: list[float] = []
    monkeypatch.setattr(
        retrier_decl, "time", type("NoSleep", (), {"sleep": staticmethod(waits.append)})
    )
    template = load_template(ROOT / "template.yaml")
    physical = create_resources(template, REGION, only=(*ANALYZE_FUNCTIONS, STATE_MACHINE))
    resolver = Resolver(template, region=REGION, physical=physical)
    state_machine_arn = physical[STATE_MACHINE].ref
    functions = local_functions(template, resolver, only=ANALYZE_FUNCTIONS)
    invoker = Invoker(functions, workers=0)  # in this process: its moto is in-process
    invoker.load()
    undo = route_moto_invokes(invoker)
    snapshots = next(f.name for f in functions if f.logical_id == "SuppressionSnapshotFunction")
    stack = AnalysisStack(state_machine_arn, invoker, waits, snapshots)
    stack.take_snapshots()  # as the local stack does when it starts
    return stack, undo


# ---------------------------------------------------------------- consent data


def opt_out(profile_id: str, channel: Channel | None = None) -> None:
    register_profile(ProfileId(profile_id), {}, None)
    record_change(
        ProfileId(profile_id),
        ConsentChange(
            scope=Scope.channel(channel) if channel else Scope.all(),
            action=Action.OPT_OUT,
            source=Source.OPERATOR,
            actor=ACTOR,
            reason="test",
        ),
    )


def set_address(address: str, status: AddressStatus, channel: Channel = Channel.EMAIL) -> None:
    put_status(channel, Address(address), status, "test", actor=ACTOR)


def now() -> datetime:
    return datetime.now(UTC)


def create_service(
    service_id: str = "news", channel: Channel = Channel.EMAIL, days: int | None = None
) -> None:
    at = now() - timedelta(days=30)
    save_service(
        Service(
            service_id=ServiceId(service_id),
            name=service_id,
            label=service_id,
            public_label=service_id,
            channel=channel,
            confirmation=Confirmation.NONE,
            subscription_days=days,
            created_at=at,
            updated_at=at,
        ),
        expected_version=None,
    )


def subscribe(
    profile_id: str,
    service_id: str = "news",
    *,
    confirm: bool = True,
    at: datetime | None = None,
) -> None:
    """A subscription: confirmed (or pending), made at `at` (its expiry runs from then)."""
    register_profile(ProfileId(profile_id), {}, None)
    record_change(
        ProfileId(profile_id),
        ConsentChange(
            scope=Scope.service(service_id),
            action=Action.SUBSCRIBE,
            source=Source.OPERATOR,
            actor=ACTOR,
            requested=SubscriptionStatus.SUBSCRIBED if confirm else SubscriptionStatus.PENDING,
        ),
        clock=(lambda: at) if at else now,
    )


def unsubscribe(profile_id: str, service_id: str = "news") -> None:
    record_change(
        ProfileId(profile_id),
        ConsentChange(
            scope=Scope.service(service_id),
            action=Action.UNSUBSCRIBE,
            source=Source.OPERATOR,
            actor=ACTOR,
        ),
    )
