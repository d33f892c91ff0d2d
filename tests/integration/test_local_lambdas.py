"""The local stack runs the template's handlers in-process behind moto's Lambda invoke."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from infra.local.lambdas import (
    InvocationTimeoutError,
    Invoker,
    LambdaContext,
    LocalFunction,
    error_payload,
    route_moto_invokes,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

REGION = "eu-west-1"
HANDLERS = """
def echo(event, context):
    return {"event": event, "function": context.function_name,
            "arn": context.invoked_function_arn, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis()}

def broken(event, context):
    raise LookupError("no such thing")
"""


@pytest.fixture
def handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A module of handlers in its own code directory, gone from sys.path afterwards."""
    module = f"local_handlers_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(HANDLERS))
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path, module
    sys.modules.pop(module, None)


def local_function(code_dir: Path, handler: str, name: str) -> LocalFunction:
    return LocalFunction(
        logical_id=name,
        name=f"consentry-{name}",
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:consentry-{name}",
        handler=handler,
        code_dir=code_dir,
        memory_mb=1769,
        timeout_s=900,
    )


@pytest.fixture
def invoker(handlers: tuple[Path, str]) -> Invoker:
    code_dir, module = handlers
    invoker = Invoker(
        [
            local_function(code_dir, f"{module}.echo", "Echo"),
            local_function(code_dir, f"{module}.broken", "Broken"),
        ]
    )
    invoker.load()
    return invoker


def test_the_context_describes_the_function_and_its_time_left() -> None:
    function = local_function(Path("functions"), "m.h", "Plan")

    context = LambdaContext(function)

    assert context.function_name == "consentry-Plan"
    assert context.invoked_function_arn == function.arn
    assert context.memory_limit_in_mb == 1769
    assert len(context.aws_request_id) == 36
    assert 899_000 < context.get_remaining_time_in_millis() <= 900_000


def test_the_handler_is_called_in_process_with_the_event_and_a_context(invoker: Invoker) -> None:
    echo = invoker.function("consentry-Echo")
    assert echo is not None
    result = invoker.invoke(echo, {"a": 1})

    assert result["event"] == {"a": 1}
    assert result["function"] == "consentry-Echo"


def test_a_handler_exception_is_reported_and_raised(
    invoker: Invoker, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = invoker.function("consentry-Broken")
    assert broken is not None
    with pytest.raises(LookupError):
        invoker.invoke(broken, {})

    assert "[Broken] invocation failed" in capsys.readouterr().err


def test_an_unhandled_error_has_lambdas_shape() -> None:
    payload = error_payload(ValueError("bad"))

    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad"
    assert isinstance(payload["stackTrace"], list)


@pytest.fixture
def moto_lambda(invoker: Invoker) -> Iterator[LambdaClient]:
    """moto's Lambda (no Docker) with the invoker's functions created, invokes routed."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        client = boto3.client("lambda", region_name=REGION)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("x.txt", "")
        for name in ("consentry-Echo", "consentry-Broken", "consentry-Elsewhere"):
            client.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler="x.handler",
                Code={"ZipFile": buffer.getvalue()},
            )
        undo = route_moto_invokes(invoker)
        yield client
        undo()


def test_an_invoke_through_moto_runs_the_handler(moto_lambda: LambdaClient) -> None:
    response = moto_lambda.invoke(
        FunctionName=f"arn:aws:lambda:{REGION}:123456789012:function:consentry-Echo",
        Payload=json.dumps({"request": "r"}),
    )

    assert "FunctionError" not in response
    payload = json.load(response["Payload"])
    assert payload["event"] == {"request": "r"}
    assert payload["memory"] == 1769


def test_a_handler_exception_is_an_unhandled_function_error_with_its_type(
    moto_lambda: LambdaClient,
) -> None:
    response = moto_lambda.invoke(FunctionName="consentry-Broken", Payload="{}")

    assert response["FunctionError"] == "Unhandled"
    payload = json.load(response["Payload"])
    assert payload["errorType"] == "LookupError"
    assert payload["errorMessage"] == "no such thing"


def test_a_function_not_from_the_template_keeps_motos_behaviour(moto_lambda: LambdaClient) -> None:
    response = moto_lambda.invoke(FunctionName="consentry-Elsewhere", Payload='{"x": 1}')

    assert json.load(response["Payload"]) == {"x": 1}


SLOW = """
import os, time

def slow(event, context):
    time.sleep(event["sleep"])
    return os.getpid()
"""


def test_invocations_of_one_function_run_at_once_in_separate_workers(tmp_path: Path) -> None:
    (tmp_path / "local_slow.py").write_text(textwrap.dedent(SLOW))
    invoker = Invoker([local_function(tmp_path, "local_slow.slow", "Slow")], workers=3)
    invoker.load()
    slow = invoker.function("consentry-Slow")
    assert slow is not None
    barrier = threading.Barrier(3)

    def call(_: int) -> int:
        barrier.wait()
        pid: int = invoker.invoke(slow, {"sleep": 1})
        return pid

    try:
        with ThreadPoolExecutor(3) as pool:
            pids = list(pool.map(call, range(3)))
    finally:
        invoker.close()

    assert len(set(pids)) == 3  # three execution environments, none shared
    assert invoker.stats()["maxInFlight"] == 3


def test_an_invocation_past_its_timeout_fails_and_its_worker_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "local_slow.py").write_text(textwrap.dedent(SLOW))
    function = dataclasses.replace(local_function(tmp_path, "local_slow.slow", "Slow"), timeout_s=1)
    invoker = Invoker([function], workers=1)
    invoker.load()
    try:
        with pytest.raises(InvocationTimeoutError):
            invoker.invoke(function, {"sleep": 30})
        first_pid = invoker.invoke(function, {"sleep": 0})
        second_pid = invoker.invoke(function, {"sleep": 0})
    finally:
        invoker.close()

    assert first_pid == second_pid  # one fresh environment, reused
