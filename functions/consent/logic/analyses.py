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
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
from botocore.exceptions import BotoCoreError, ClientError

from consent.commands import Command, idempotent
from consent.schemas.analyses import AnalysisStarted, ExplainedRow, ExplainOut
from consentry.analysis import record_store
from consentry.analysis.classifier import shard_of
from consentry.analysis.contract import (
    AnalysisOptions,
    AnalysisRecord,
    AnalysisRequest,
)
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.run import PLAN_FILE, RunPlan, shard_rows
from consentry.analysis.terms import (
    AnalysisConflictError,
    AnalysisStatus,
    AudienceError,
    IncompleteAnalysisError,
    run_prefix,
)
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.clock import Clock
from consentry.core.errors import InvalidInputError, NotFoundError, WorkflowUnavailableError
from consentry.core.types import Address

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

TARGETED = "targeted"
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class StartAnalysis(Command):
    delivery_id: str
    body: AnalysisOptions


@idempotent
def start(
    *, command: StartAnalysis, workflows: SFNClient, state_machine_arn: str, clock: Clock
) -> AnalysisStarted:
    """Start the analysis of a delivery, unless one is running or done and the body does
    not say `force` (AnalysisConflictError).

    The record is created first (PENDING, owned by the execution about to start), so a
    GET right after the 202 finds it; if the start fails, the record says so (FAILED),
    and the delivery may be started again.
    """
    delivery_id = command.delivery_id
    request = AnalysisRequest.model_validate(
        {**command.body.model_dump(by_alias=True), "deliveryId": delivery_id}
    )
    name = execution_name(delivery_id, clock)
    execution_arn = execution_arn_of(state_machine_arn, name)
    now = clock()
    record_store.reserve(request.checked(), execution_arn, now)
    try:
        workflows.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=request.model_dump_json(by_alias=True, exclude_none=True),
        )
    except (ClientError, BotoCoreError) as error:
        unavailable = WorkflowUnavailableError(f"the analysis could not be started: {error}")
        record_store.fail(
            delivery_id, execution_arn, type(unavailable).__name__, str(unavailable), clock()
        )
        raise unavailable from error
    return AnalysisStarted(
        delivery_id=delivery_id, execution_arn=execution_arn, status=AnalysisStatus.PENDING
    )


def execution_arn_of(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives execution `name` of a standard state machine."""
    prefix, _, machine = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def execution_name(delivery_id: str, clock: Clock) -> str:
    """Unique, and readable in the console: the delivery, the time, a random tail."""
    readable = _NAME_UNSAFE.sub("-", delivery_id)[:48]
    return f"{readable}-{clock():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def get(delivery_id: str) -> AnalysisRecord:
    record = record_store.find(delivery_id)
    if record is None:
        raise NotFoundError("analysis", delivery_id)
    return record


def latest(limit: int) -> list[AnalysisRecord]:
    """The newest analyses, newest first."""
    return record_store.latest(limit)


def explain(
    delivery_id: str, address: str, profile_id: str | None, bucket: DataBucket
) -> ExplainOut:
    """Which rows of the audience carry `address` (and `profile_id`), and their verdicts."""
    record = get(delivery_id)
    if record.status is not AnalysisStatus.SUCCEEDED or record.execution_arn is None:
        raise AnalysisConflictError(
            f"the analysis of {delivery_id!r} is {record.status.value}: no result to explain"
        )
    try:
        plan = msgspec.json.decode(
            bucket.get_bytes(run_prefix(delivery_id, record.execution_arn) + PLAN_FILE),
            type=RunPlan,
        )
    except ObjectGoneError:
        raise NotFoundError("analysis", delivery_id) from None  # its files have expired
    except msgspec.MsgspecError:  # a damaged plan: nothing else to read the rows by
        raise AnalysisConflictError(
            f"the plan of the analysis of {delivery_id!r} cannot be read: "
            "analyze it again to explain its rows"
        ) from None
    normalize = plan.rules.normalizer()
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
        for row in _exclusion_log(plan, bucket, shard)
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
    with contextlib.suppress(AudienceError, IncompleteAnalysisError, ObjectGoneError):
        found += [
            ExplainedRow(row=number, profile_id=row_profile, address=row_address, verdict=TARGETED)
            for number, row_profile, row_address in shard_rows(plan, bucket, shard)
            if number not in excluded and matches(row_profile, row_address)
        ]
    if not found:
        raise NotFoundError("audience row", address)
    return ExplainOut(
        delivery_id=delivery_id,
        consent_as_of=record.consent_as_of,
        rows=sorted(found, key=lambda row: row.row),
    )


def _comparable(address: str, normalize: Callable[[str], Address | None]) -> str:
    trimmed = address.strip()
    return (normalize(trimmed) if trimmed else None) or trimmed


def _exclusion_log(plan: RunPlan, bucket: DataBucket, shard: int) -> list[dict[str, str]]:
    key = plan.exclusions_part(shard if plan.partitioned else 0)
    try:
        with bucket.open_text(key) as text:
            return list(csv.DictReader(text))
    except ObjectGoneError:
        raise NotFoundError("analysis", plan.request.delivery_id) from None
