"""Analysis step 5, Summarize: add the pieces up into the analysis record and mark it
done; the record is the execution's output. The analysis counts in the day's analyses
(the console's figures), where a failure to count is logged, never the analysis's.

It checks that the pieces are complete and this run's own (one per shard, one per
chunk, one per target part), and that the counts add up to the audience, before the
record points at the target: the record never names a target some row of which had no
verdict.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from collections import Counter
from datetime import datetime
from typing import Any

from analyze.step import PlannedTask, Wiring, load_stored, step
from consentry.analysis import piece_store, record_store
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.run import RunPlan
from consentry.analysis.terms import IncompleteAnalysisError
from consentry.core.bucket import DataBucket
from consentry.core.observability import logger
from consentry.reporting import counter_store
from consentry.reporting.cells import analysis_tally


@step(PlannedTask)
def lambda_handler(task: PlannedTask, wiring: Wiring) -> dict[str, Any]:
    return summarize(
        load_stored(wiring.bucket, task.plan, RunPlan, "plan"), wiring.bucket, wiring.clock()
    )


def summarize(plan: RunPlan, bucket: DataBucket, now: datetime) -> dict[str, Any]:
    """Check that the run's pieces add up, record the result, and return the record
    (the contract's `AnalysisRecord`, as JSON)."""
    shards = _complete(plan, PieceKind.SHARD, plan.shards)
    audience_size = sum(piece.rows for piece in shards)
    targeted = sum(piece.targeted for piece in shards)
    excluded: Counter[ExclusionCause] = Counter()
    for piece in shards:
        excluded.update(piece.excluded)
    total = sum(excluded.values())
    if total + targeted != audience_size:
        raise IncompleteAnalysisError(
            f"{total} excluded and {targeted} targeted rows are not {audience_size}"
        )
    parts = 1
    if plan.partitioned:
        chunks = _complete(plan, PieceKind.CHUNK, len(plan.chunks))
        if sum(piece.rows for piece in chunks) != audience_size:
            raise IncompleteAnalysisError("the shards hold other rows than the chunks")
        parts = len(plan.chunks)
        if not plan.request.dry_run:
            assembled = _complete(plan, PieceKind.PART, parts)
            if sum(piece.targeted for piece in assembled) != targeted:
                raise IncompleteAnalysisError("the target parts hold other rows than classified")
    consent_as_of = plan.consent_as_of or min(
        (piece.consent_as_of for piece in shards if piece.consent_as_of), default=now
    )
    record = record_store.succeed(
        plan.request.delivery_id,
        plan.execution_arn,
        consent_as_of=consent_as_of,
        audience_size=audience_size,
        excluded=excluded,
        target=None if plan.request.dry_run else (bucket.uri(plan.target_prefix), parts),
        exclusion_log_uri=bucket.uri(plan.exclusions_prefix),
        now=now,
    )
    bucket.delete_prefix(plan.key("verdicts/"))
    tally = analysis_tally(plan.request.delivery_id, plan.execution_arn, now, "succeeded")
    counter_store.add_or_log([tally], now, "analysis")
    logger.info(
        "analysis succeeded",
        extra={
            "delivery_id": plan.request.delivery_id,
            "audience_size": audience_size,
            "target_size": targeted,
            **{cause.value: excluded[cause] for cause in ExclusionCause},
        },
    )
    return record


def _complete(plan: RunPlan, kind: PieceKind, count: int) -> list[Piece]:
    found = {p.item: p for p in piece_store.pieces(plan.request.delivery_id, kind)}
    pieces = []
    for number in range(count):
        piece = found.get(kind.item(number))
        if piece is None or piece.execution_arn != plan.execution_arn:
            raise IncompleteAnalysisError(f"{kind.value}{number} is missing from this run")
        pieces.append(piece)
    return pieces


cold_start.loaded()
