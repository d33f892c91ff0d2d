"""The analysis's failure path, RecordFailure: record why the execution failed on the
delivery's record, remove the run's objects (no partial target is ever named or left),
and hand the Fail state its error and cause. A failure recorded counts in the day's
analyses (the console's figures); a failure to count is logged."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import json
from datetime import datetime
from typing import Any

import msgspec

from analyze.step import STEP_ERRORS, StepError, StepPayload, Wiring, step
from consentry.analysis import record_store
from consentry.analysis.terms import run_prefix
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.observability import logger
from consentry.core.types import is_identifier
from consentry.reporting import counter_store
from consentry.reporting.cells import analysis_tally


class FailureInput(StepPayload, frozen=True, kw_only=True):
    state: dict[str, Any] | None = None
    """The execution's state when a Catch sent it here, with the caught `error`."""
    execution_arn: str


class FailureOutput(StepPayload, frozen=True, kw_only=True):
    error: str
    cause: str


@step(FailureInput)
def lambda_handler(task: FailureInput, wiring: Wiring) -> FailureOutput:
    return record_failure(task.state or {}, task.execution_arn, wiring.bucket, wiring.clock())


def record_failure(
    state: dict[str, Any], execution_arn: str, bucket: DataBucket, now: datetime
) -> FailureOutput:
    """Mark the delivery's record FAILED with the reason, remove the run's objects, and
    give the Fail state its error and cause."""
    error = _caught(state.get("error"))
    delivery_id = state.get("deliveryId")
    if not is_identifier(delivery_id):
        logger.info("analysis refused", extra={"error": error.type})
        return FailureOutput(error=error.type, cause=error.message)
    prefix = run_prefix(str(delivery_id), execution_arn)
    error = _step_error(bucket, prefix) or error
    recorded = record_store.fail(str(delivery_id), execution_arn, error.type, error.message, now)
    if recorded:
        tally = analysis_tally(str(delivery_id), execution_arn, now, "failed")
        counter_store.add_or_log([tally], now, "analysis")
    removed = bucket.delete_prefix(prefix)
    logger.info(
        "analysis failed",
        extra={
            "delivery_id": delivery_id,
            "error": error.type,
            "recorded": recorded,
            "objects_removed": removed,
        },
    )
    return FailureOutput(error=error.type, cause=error.message)


def _caught(caught: Any) -> StepError:
    """The error a Catch put in the state: Lambda's JSON cause, or the engine's text."""
    if not isinstance(caught, dict):
        return StepError(type="States.Runtime", message="the execution failed")
    kind = str(caught.get("Error") or "States.Runtime")
    cause = caught.get("Cause") or ""
    try:
        payload = json.loads(cause)
    except (TypeError, ValueError):
        payload = None
    if isinstance(payload, dict) and "errorMessage" in payload:
        return StepError(
            type=str(payload.get("errorType") or kind), message=str(payload["errorMessage"])
        )
    return StepError(type=kind, message=str(cause) or kind)


def _step_error(bucket: DataBucket, prefix: str) -> StepError | None:
    """The error of the earliest step of the run that failed, if any left one (one that
    cannot be read leaves the caught error to stand)."""
    keys = bucket.list_keys(f"{prefix}{STEP_ERRORS}")
    if not keys:
        return None
    try:
        return msgspec.json.decode(bucket.get_bytes(keys[0]), type=StepError)
    except (ObjectGoneError, msgspec.MsgspecError):
        logger.warning("a step's kept error could not be read")
        return None


cold_start.loaded()
