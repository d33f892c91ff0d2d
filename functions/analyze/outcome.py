"""How an execution ends: Summarize adds the pieces up into the record; RecordFailure
says why it stopped and removes what it wrote.

Summarize checks that the pieces are complete and this run's own (one per shard, one
per chunk), and that the counts add up to the audience, before the record points at
the target: the record never names a target some row of which had no verdict.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from consentry.addresses.status import ExclusionCause
from consentry.analysis import files, record_store
from consentry.analysis.contract import (
    AnalysisError,
    ExclusionCounts,
    IncompleteAnalysisError,
    LogRef,
    TargetRef,
)
from consentry.analysis.record_store import PART, SHARD, Piece, piece_key
from consentry.analysis.run import RunPlan, run_prefix
from consentry.analysis.shards import CHUNK
from consentry.core.observability import logger
from consentry.core.types import IdentifierStr

STEP_ERRORS = "errors/"
"""Where a step that fails leaves its error, under the run's prefix. A distributed map
reports only that a child failed (on AWS; moto's engine lets the map go on), and a
later step that finds the child's output missing reports that: the earliest step's
error is the one the record gives."""
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(IdentifierStr)


def _complete(plan: RunPlan, prefix: str, count: int) -> list[Piece]:
    found = {p.item: p for p in record_store.pieces(plan.request.delivery_id, prefix)}
    pieces = []
    for number in range(count):
        piece = found.get(piece_key(prefix, number))
        if piece is None or piece.execution_arn != plan.execution_arn:
            raise IncompleteAnalysisError(f"{prefix}{number} is missing from this run")
        pieces.append(piece)
    return pieces


def summarize(plan: RunPlan, now: datetime) -> dict[str, Any]:
    shards = _complete(plan, SHARD, plan.shards)
    audience_size = sum(piece.rows for piece in shards)
    targeted = sum(piece.targeted for piece in shards)
    excluded: Counter[ExclusionCause] = Counter()
    for piece in shards:
        excluded.update(piece.excluded)
    counts = ExclusionCounts.of(dict(excluded))
    if counts.total + targeted != audience_size:
        raise IncompleteAnalysisError(
            f"{counts.total} excluded and {targeted} targeted rows are not {audience_size}"
        )
    parts = 1
    if plan.partitioned:
        chunks = _complete(plan, CHUNK, len(plan.chunks))
        if sum(piece.rows for piece in chunks) != audience_size:
            raise IncompleteAnalysisError("the shards hold other rows than the chunks")
        parts = len(plan.chunks)
        if not plan.request.dry_run:
            assembled = _complete(plan, PART, parts)
            if sum(piece.targeted for piece in assembled) != targeted:
                raise IncompleteAnalysisError("the target parts hold other rows than classified")
    consent_as_of = plan.consent_as_of or min(
        (piece.consent_as_of for piece in shards if piece.consent_as_of), default=now
    )
    target = (
        None
        if plan.request.dry_run
        else TargetRef(uri=f"s3://{plan.bucket}/{plan.target_prefix}", parts=parts)
    )
    record = record_store.succeed(
        plan.request.delivery_id,
        plan.execution_arn,
        consent_as_of=consent_as_of,
        audience_size=audience_size,
        excluded=counts,
        target=target,
        exclusion_log=LogRef(uri=f"s3://{plan.bucket}/{plan.exclusions_prefix}"),
        now=now,
    )
    files.delete_prefix(plan.bucket, plan.key("verdicts/"))
    logger.info(
        "analysis succeeded",
        extra={
            "delivery_id": plan.request.delivery_id,
            "audience_size": audience_size,
            "target_size": targeted,
            **counts.model_dump(),
        },
    )
    return record.model_dump(mode="json", by_alias=True)


def record_step_error(bucket: str, prefix: str, step: str, error: Exception) -> None:
    """Leave a failing step's error where RecordFailure finds it (best effort)."""
    try:
        files.put_json(
            bucket, f"{prefix}{STEP_ERRORS}{step}.json", _error_of(type(error).__name__, str(error))
        )
    except Exception:  # the step's own error is the one Lambda must report
        logger.warning("the step's error could not be kept", extra={"step": step})


def _error_of(kind: str, message: str) -> dict[str, str]:
    return {"type": kind, "message": message}


def record_failure(
    state: dict[str, Any], execution_arn: str, bucket: str, now: datetime
) -> dict[str, str]:
    """Mark the delivery's record FAILED with the reason, remove the run's objects, and
    give the Fail state its error and cause."""
    error = _caught(state.get("error"))
    delivery_id = state.get("deliveryId")
    if not _identifier(delivery_id):
        logger.info("analysis refused", extra={"error": error.type})
        return {"error": error.type, "cause": error.message}
    prefix = run_prefix(str(delivery_id), execution_arn)
    error = _step_error(bucket, prefix) or error
    recorded = record_store.fail(str(delivery_id), execution_arn, error, now)
    removed = files.delete_prefix(bucket, prefix)
    logger.info(
        "analysis failed",
        extra={
            "delivery_id": delivery_id,
            "error": error.type,
            "recorded": recorded,
            "objects_removed": removed,
        },
    )
    return {"error": error.type, "cause": error.message}


def _identifier(value: object) -> bool:
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        return False
    return True


def _caught(caught: Any) -> AnalysisError:
    """The error a Catch put in the state: Lambda's JSON cause, or the engine's text."""
    if not isinstance(caught, dict):
        return AnalysisError(type="States.Runtime", message="the execution failed")
    kind = str(caught.get("Error") or "States.Runtime")
    cause = caught.get("Cause") or ""
    try:
        payload = json.loads(cause)
    except (TypeError, ValueError):
        payload = None
    if isinstance(payload, dict) and "errorMessage" in payload:
        return AnalysisError(
            type=str(payload.get("errorType") or kind), message=str(payload["errorMessage"])
        )
    return AnalysisError(type=kind, message=str(cause) or kind)


def _step_error(bucket: str, prefix: str) -> AnalysisError | None:
    """The error of the earliest step of the run that failed, if any left one."""
    keys = files.list_keys(bucket, f"{prefix}{STEP_ERRORS}")
    return AnalysisError.model_validate(files.get_json(bucket, keys[0])) if keys else None
