"""Where an analysis runs: the local stack (`make run` writes its addresses to
.local/demo.json) or a deployed stack, found by its CloudFormation name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

LOCAL_STATE = Path(".local") / "demo.json"
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class StackNotFoundError(Exception):
    """Neither a running local stack nor the named deployed stack could be found."""


@dataclass(frozen=True)
class Stack:
    name: str
    state_machine_arn: str
    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    """Set for the local stack (moto's endpoint on 127.0.0.1)."""
    api_url: str | None = None
    """The landing pages' and /v1 API's base URL (output ApiUrl)."""

    def client(self, service: str) -> Any:
        options: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url is not None:
            options |= {"endpoint_url": self.endpoint_url, **LOCAL_CREDENTIALS}
        return boto3.client(service, **options)  # type: ignore[call-overload]


def local_stack(state_file: Path = LOCAL_STATE) -> Stack:
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise StackNotFoundError(
            f"no local stack: {state_file} does not exist (start one with `make run`, "
            "or name a deployed stack with --stack)"
        ) from None
    return Stack(
        name="local",
        state_machine_arn=state["state_machine_arn"],
        bucket=state["bucket"],
        region=state["region"],
        endpoint_url=state["aws_endpoint_url"],
        api_url=state.get("api_url"),
    )


def deployed_stack(name: str, region: str | None = None) -> Stack:
    """The stack's outputs StateMachineArn and DataBucketName, with the caller's AWS
    credentials (profile, environment or role)."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    try:
        described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        raise StackNotFoundError(f"no stack {name!r}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = {"StateMachineArn", "DataBucketName"} - set(outputs)
    if missing:
        raise StackNotFoundError(f"stack {name!r} has no output {', '.join(sorted(missing))}")
    return Stack(
        name=name,
        state_machine_arn=outputs["StateMachineArn"],
        bucket=outputs["DataBucketName"],
        region=cloudformation.meta.region_name,
        api_url=outputs.get("ApiUrl"),
    )
