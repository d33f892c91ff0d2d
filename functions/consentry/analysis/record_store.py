"""Data access for delivery analyses' records: with `piece_store`, the only modules that
read and write the analyses table.

A delivery has one `RECORD` item, owned by the execution that claimed it last, and one
item per piece of that execution's work (`piece_store`). Every write after the claim is
conditioned on the record still naming the writer's execution, so a replaced run can
never write into its successor's result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from consentry.analysis import piece_store
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.tables import KEPT_FOR, RECORD, AnalysisModel, plain_map
from consentry.analysis.terms import AnalysisConflictError, AnalysisStatus, CheckedRequest
from consentry.core.clock import iso_text
from consentry.core.persistence import LostRace, dynamodb

if TYPE_CHECKING:
    from consentry.analysis.contract import AnalysisRecord


def find(delivery_id: str) -> AnalysisRecord | None:
    with dynamodb():
        try:
            item = AnalysisModel.get(delivery_id, RECORD, consistent_read=True)
        except AnalysisModel.DoesNotExist:
            return None
    return _record(item)


def latest(limit: int) -> list[AnalysisRecord]:
    """The newest analysis records, newest first (one query of the sparse `recent` index)."""
    with dynamodb():
        items = list(AnalysisModel.recent.query(RECORD, scan_index_forward=False, limit=limit))
    return [_record(item) for item in items]


def _claimable(request: CheckedRequest, execution_arn: str) -> Any:
    """Who may take the record: anyone with `force`; else only when there is none, it
    failed, or it already names this execution (a retry, or a reserved start)."""
    if request.force:
        return None
    return (
        AnalysisModel.delivery_id.does_not_exist()
        | (AnalysisModel.status == AnalysisStatus.FAILED.value)
        | (AnalysisModel.execution_arn == execution_arn)
    )


def reserve(request: CheckedRequest, execution_arn: str, now: datetime) -> None:
    """Create the delivery's record, status PENDING and owned by `execution_arn`, before
    that execution is started: a caller that polls the record never finds none.

    Refused (AnalysisConflictError) as `claim` is; Plan's claim then takes the record
    as its own (same execution) and makes it RUNNING.
    """
    _own(request, execution_arn, AnalysisStatus.PENDING, now)


def claim(request: CheckedRequest, execution_arn: str, now: datetime) -> None:
    """Make `execution_arn` the owner of the delivery's record, status RUNNING.

    Refused (AnalysisConflictError) while another execution runs, and once an analysis
    succeeded, unless the request says `force`; a failed analysis may run again. A
    retried claim of the same execution is accepted.
    """
    _own(request, execution_arn, AnalysisStatus.RUNNING, now)
    piece_store.delete_pieces(request.delivery_id)


def _own(
    request: CheckedRequest, execution_arn: str, status: AnalysisStatus, now: datetime
) -> None:
    """Write the record as `execution_arn`'s with `status`, if the delivery may be
    claimed by it (AnalysisConflictError if not)."""
    item = AnalysisModel(
        request.delivery_id,
        RECORD,
        status=status.value,
        execution_arn=execution_arn,
        request=request.document(),
        created_at=now,
        updated_at=now,
        expires_at=now + KEPT_FOR,
    )
    try:
        with dynamodb():
            item.save(condition=_claimable(request, execution_arn))
    except LostRace:
        current = find(request.delivery_id)
        raise AnalysisConflictError(_refusal(request.delivery_id, current)) from None


def _refusal(delivery_id: str, current: AnalysisRecord | None) -> str:
    if current is None or current.status is AnalysisStatus.FAILED:
        return f"delivery {delivery_id!r} changed while it was being claimed; start it again"
    if current.status in (AnalysisStatus.PENDING, AnalysisStatus.RUNNING):
        return (
            f"delivery {delivery_id!r} is being analyzed by {current.execution_arn}; "
            "wait for it, or pass force to replace it"
        )
    return (
        f"delivery {delivery_id!r} was analyzed already ({current.status.value} by "
        f"{current.execution_arn}); pass force to replace the result"
    )


def set_consent_as_of(delivery_id: str, execution_arn: str, at: datetime) -> None:
    _update_owned(
        delivery_id,
        execution_arn,
        [AnalysisModel.consent_as_of.set(at), AnalysisModel.updated_at.set(at)],
    )


def succeed(
    delivery_id: str,
    execution_arn: str,
    *,
    consent_as_of: datetime,
    audience_size: int,
    excluded: Mapping[ExclusionCause, int],
    target: tuple[str, int] | None,
    exclusion_log_uri: str,
    now: datetime,
) -> dict[str, Any]:
    """Record the run's result; the record as the state machine returns it (`document`).
    `target` is the target's prefix and parts (None in a dry run)."""
    counts = {cause.value: excluded.get(cause, 0) for cause in ExclusionCause}
    actions: list[Any] = [
        AnalysisModel.consent_as_of.set(consent_as_of),
        AnalysisModel.audience_size.set(audience_size),
        AnalysisModel.target_size.set(audience_size - sum(counts.values())),
        AnalysisModel.excluded.set(counts),
        AnalysisModel.exclusion_log_uri.set(exclusion_log_uri),
        AnalysisModel.updated_at.set(now),
    ]
    if target is not None:
        uri, parts = target
        actions += [AnalysisModel.target_uri.set(uri), AnalysisModel.target_parts.set(parts)]
    # The status last: DynamoDB applies an update at once, but the local stack's engine
    # sets one attribute after another, and a caller polling the record there must not
    # see SUCCEEDED before the figures and the target it names.
    actions.append(AnalysisModel.status.set(AnalysisStatus.SUCCEEDED.value))
    return document(_update_owned(delivery_id, execution_arn, actions))


def fail(
    delivery_id: str, execution_arn: str, error_type: str, message: str, now: datetime
) -> bool:
    """Record why the execution failed; False when the record belongs to another run.

    The record is this execution's (or a failed one's, or none yet): a run refused
    because the delivery was done never overwrites that result.
    """
    item = AnalysisModel(delivery_id, RECORD)
    try:
        with dynamodb():
            item.update(
                actions=[
                    AnalysisModel.status.set(AnalysisStatus.FAILED.value),
                    AnalysisModel.execution_arn.set(execution_arn),
                    AnalysisModel.error.set({"type": error_type, "message": message}),
                    AnalysisModel.target_uri.remove(),
                    AnalysisModel.target_parts.remove(),
                    AnalysisModel.created_at.set(AnalysisModel.created_at | now),
                    AnalysisModel.expires_at.set(AnalysisModel.expires_at | now + KEPT_FOR),
                    AnalysisModel.updated_at.set(now),
                ],
                condition=(
                    AnalysisModel.delivery_id.does_not_exist()
                    | (AnalysisModel.execution_arn == execution_arn)
                    | (AnalysisModel.status == AnalysisStatus.FAILED.value)
                ),
            )
    except LostRace:
        return False
    return True


def _update_owned(delivery_id: str, execution_arn: str, actions: list[Any]) -> AnalysisModel:
    item = AnalysisModel(delivery_id, RECORD)
    try:
        with dynamodb():
            item.update(actions=actions, condition=AnalysisModel.execution_arn == execution_arn)
    except LostRace:
        raise AnalysisConflictError(
            f"{execution_arn} no longer owns the analysis of {delivery_id!r}"
        ) from None
    return item


def document(item: AnalysisModel) -> dict[str, Any]:
    """The record as the contract writes it (`AnalysisRecord`'s JSON), from plain values:
    the steps return it without loading the contract's models."""
    request = plain_map(item.request)
    error = plain_map(item.error)
    excluded = plain_map(item.excluded)
    return {
        "deliveryId": item.delivery_id,
        "status": item.status,
        "executionArn": item.execution_arn,
        "dryRun": bool(request.get("dryRun", False)),
        "consentAsOf": _time(item.consent_as_of),
        "audienceSize": None if item.audience_size is None else int(item.audience_size),
        "targetSize": None if item.target_size is None else int(item.target_size),
        "excluded": {cause.value: int(excluded[cause.value]) for cause in ExclusionCause}
        if excluded
        else None,
        "target": {"uri": item.target_uri, "parts": int(item.target_parts or 0)}
        if item.target_uri
        else None,
        "exclusionLog": {"uri": item.exclusion_log_uri} if item.exclusion_log_uri else None,
        "error": {"type": str(error["type"]), "message": str(error["message"])} if error else None,
        "createdAt": _time(item.created_at),
        "updatedAt": _time(item.updated_at),
    }


def _time(at: datetime | None) -> str | None:
    return None if at is None else iso_text(at)


def _record(item: AnalysisModel) -> AnalysisRecord:
    """The record as the operator API answers it: the contract's model, which checks
    the document. Loaded here, not at import: the steps write the record as a document,
    and only the API (and Plan, when its claim is refused) reads one back."""
    from consentry.analysis.contract import AnalysisRecord  # noqa: PLC0415 (see above)

    return AnalysisRecord.model_validate(document(item))
