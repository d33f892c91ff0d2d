"""Delivery analyses: the operations behind /v1/deliveries/{deliveryId}/analysis.

Starting one hands the request to the analysis state machine (docs/analysis-contract.md);
the record is what the state machine wrote. Explaining a row reads the one shard its
address hashes to: the shard's exclusion log says why a row was excluded, and the
shard's rows say which rows there were (a row that is not in the log was targeted).
"""

from __future__ import annotations

import contextlib
import csv
import re
import secrets
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from consent.api import ApiModel
from consentry.addresses.status import ExclusionCause
from consentry.analysis import files, record_store
from consentry.analysis.classifier import normalizer, shard_of
from consentry.analysis.contract import (
    AnalysisConflictError,
    AnalysisOptions,
    AnalysisRecord,
    AnalysisRequest,
    AnalysisStatus,
    AudienceError,
)
from consentry.analysis.run import PLAN_FILE, RunPlan, run_prefix
from consentry.analysis.shards import shard_rows
from consentry.core.clock import utc_now
from consentry.core.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from consentry.core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TARGETED = "targeted"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class AnalysisStarted(ApiModel):
    delivery_id: str
    execution_arn: str
    status: AnalysisStatus


class ExplainedRow(ApiModel):
    row: int
    """The row's number in the audience: 1 is the first row after the header."""
    profile_id: str
    address: str
    verdict: Literal["targeted"] | ExclusionCause


class ExplainOut(ApiModel):
    delivery_id: str
    consent_as_of: datetime | None
    rows: list[ExplainedRow]
    """Every row of the audience with this address (and profile id, when given)."""


def start(delivery_id: str, body: AnalysisOptions) -> dict[str, Any]:
    """Start the analysis of a delivery (202), unless one is running or done and the
    body does not say `force` (409)."""
    request = AnalysisRequest.model_validate(
        {**body.model_dump(by_alias=True), "deliveryId": delivery_id}
    )
    current = record_store.find(delivery_id)
    if current is not None and current.status is not AnalysisStatus.FAILED and not body.force:
        raise AnalysisConflictError(
            f"delivery {delivery_id!r} is {current.status.value} ({current.execution_arn}); "
            "pass force to replace it"
        )
    state_machine = get_settings().state_machine_arn
    if state_machine is None:
        raise RuntimeError("STATE_MACHINE_ARN is not set: this function cannot start analyses")
    try:
        execution = _sfn().start_execution(
            stateMachineArn=state_machine,
            name=execution_name(delivery_id),
            input=request.model_dump_json(by_alias=True, exclude_none=True),
        )
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(f"the analysis could not be started: {error}") from error
    started = AnalysisStarted(
        delivery_id=delivery_id,
        execution_arn=execution["executionArn"],
        status=AnalysisStatus.RUNNING,
    )
    return {"status": 202, "body": started.model_dump(mode="json", by_alias=True)}


def execution_name(delivery_id: str) -> str:
    """Unique, and readable in the console: the delivery, the time, a random tail."""
    readable = _NAME_UNSAFE.sub("-", delivery_id)[:48]
    return f"{readable}-{utc_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def get(delivery_id: str) -> AnalysisRecord:
    record = record_store.find(delivery_id)
    if record is None:
        raise NotFoundError("analysis", delivery_id)
    return record


def explain(delivery_id: str, address: str, profile_id: str | None) -> ExplainOut:
    """Which rows of the audience carry `address` (and `profile_id`), and their verdicts."""
    record = get(delivery_id)
    if record.status is not AnalysisStatus.SUCCEEDED or record.execution_arn is None:
        raise AnalysisConflictError(
            f"the analysis of {delivery_id!r} is {record.status.value}: no result to explain"
        )
    plan = RunPlan.model_validate_json(
        files.get_bytes(
            get_settings().data_bucket, run_prefix(delivery_id, record.execution_arn) + PLAN_FILE
        )
    )
    normalize = normalizer(plan.request.channel, plan.default_region)
    wanted = _comparable(address, normalize)
    if not wanted:
        raise InvalidInputError("address", "must not be empty")
    shard = shard_of(address, plan.shards, normalize)

    def matches(row_profile: str, row_address: str) -> bool:
        return (profile_id is None or row_profile == profile_id) and _comparable(
            row_address, normalize
        ) == wanted

    excluded = {
        int(row["row"]): row
        for row in _exclusion_log(plan, shard)
        if matches(row["profile_id"], row["address"])
    }
    found = [
        ExplainedRow(
            row=int(number),
            profile_id=row["profile_id"],
            address=row["address"],
            verdict=ExclusionCause(row["cause"]),
        )
        for number, row in excluded.items()
    ]
    # The audience may be gone (it expires before the result): the log still answers.
    with contextlib.suppress(AudienceError):
        found += [
            ExplainedRow(row=number, profile_id=row_profile, address=row_address, verdict=TARGETED)
            for number, row_profile, row_address in shard_rows(plan, shard)
            if number not in excluded and matches(row_profile, row_address)
        ]
    if not found:
        raise NotFoundError("audience row", address)
    return ExplainOut(
        delivery_id=delivery_id,
        consent_as_of=record.consent_as_of,
        rows=sorted(found, key=lambda row: row.row),
    )


def _comparable(address: str, normalize: Any) -> str:
    trimmed = address.strip()
    return (normalize(trimmed) if trimmed else None) or trimmed


def _exclusion_log(plan: RunPlan, shard: int) -> list[dict[str, str]]:
    key = plan.exclusions_part(shard if plan.partitioned else 0)
    with files.open_object(plan.bucket, key) as text:
        return list(csv.DictReader(text))


@lru_cache(maxsize=1)
def _sfn() -> SFNClient:
    return boto3.client("stepfunctions", region_name=get_settings().aws_region)
