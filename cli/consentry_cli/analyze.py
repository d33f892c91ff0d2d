"""`consentry analyze`: upload an audience, start the analysis of a delivery, follow it,
and print its report."""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from consentry_cli.progress import Bar, progress
from consentry_cli.report import table
from consentry_cli.stack import Stack

POLL_S = 0.5
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class AnalysisFailedError(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


@dataclass(frozen=True)
class Analysis:
    """What to analyze: the input contract of docs/analysis-contract.md, from the command line."""

    audience: Path
    channel: str
    delivery_id: str | None = None
    message_class: str = "marketing"
    service_id: str | None = None
    audience_format: str | None = None
    profile_id_field: str = "profile_id"
    address_field: str = "address"
    control_group: dict[str, Any] | None = None
    dry_run: bool = False
    force: bool = False

    @property
    def delivery(self) -> str:
        if self.delivery_id:
            return self.delivery_id
        stem = _NAME_UNSAFE.sub("-", self.audience.stem)[:40]
        return f"{stem}-{datetime.now(UTC):%Y%m%dT%H%M%S}"

    @property
    def format(self) -> str:
        if self.audience_format:
            return self.audience_format
        return "jsonl" if self.audience.suffix.lower() in (".jsonl", ".ndjson") else "csv"


def run(analysis: Analysis, stack: Stack, out: IO[str], err: IO[str]) -> dict[str, Any]:
    """Upload, start, follow; the record (the execution's output). Raises
    AnalysisFailedError when the execution fails."""
    delivery = analysis.delivery
    run = secrets.token_hex(4)
    # Each run its own object: an earlier result keeps the audience it was computed from.
    key = f"audiences/{delivery}/{run}/{analysis.audience.name}"
    err.write(f"uploading {analysis.audience} to s3://{stack.bucket}/{key}\n")
    stack.client("s3").upload_file(str(analysis.audience), stack.bucket, key)
    request: dict[str, Any] = {
        "deliveryId": delivery,
        "channel": analysis.channel,
        "messageClass": analysis.message_class,
        "audience": {
            "uri": f"s3://{stack.bucket}/{key}",
            "format": analysis.format,
            "profileIdField": analysis.profile_id_field,
            "addressField": analysis.address_field,
        },
        "dryRun": analysis.dry_run,
        "force": analysis.force,
    }
    if analysis.service_id:
        request["serviceId"] = analysis.service_id
    if analysis.control_group:
        request["controlGroup"] = analysis.control_group
    sfn = stack.client("stepfunctions")
    name = f"{_NAME_UNSAFE.sub('-', delivery)[:48]}-{run}"
    execution_arn = sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps(request)
    )["executionArn"]
    err.write(f"analyzing delivery {delivery} on the {stack.name} stack: {execution_arn}\n")
    bar = Bar(err)
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        bar.show(progress(sfn, execution_arn))
        time.sleep(POLL_S)
    bar.close(described["status"])
    if described["status"] != "SUCCEEDED":
        raise AnalysisFailedError(
            described.get("error") or described["status"], described.get("cause") or ""
        )
    record: dict[str, Any] = json.loads(described["output"])
    out.write(table(record) + "\n")
    return record


def main_analyze(analysis: Analysis, stack: Stack) -> int:
    try:
        run(analysis, stack, sys.stdout, sys.stderr)
    except AnalysisFailedError as error:
        sys.stderr.write(f"analysis failed: {error}\n")
        return 1
    return 0
