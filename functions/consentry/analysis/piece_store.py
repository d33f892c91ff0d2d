"""The pieces of a delivery analysis's run in the analyses table: one item per piece of
the work of the execution that owns the record (`PieceKind`: a chunk Partition split, a
shard Classify counted, a part Assemble wrote).

Apart from `record_store` (the record itself, in the contract's terms): the steps
that split, classify and assemble write and read pieces, never the record. A piece is
written only
while the record names the piece's execution, so a replaced run can never write into
its successor's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pynamodb.transactions import TransactWrite

from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.tables import KEPT_FOR, RECORD, AnalysisModel, plain_map
from consentry.analysis.terms import AnalysisConflictError
from consentry.core.persistence import LostRace, dynamodb, transactions


class PieceKind(StrEnum):
    """The items a run writes beside the record, one per piece of its work."""

    CHUNK = "CHUNK#"
    """Partition: how many rows one chunk of the audience holds, and where each shard's
    rows end in the chunk's partition file."""
    SHARD = "SHARD#"
    """Classify: one shard's counts per cause, and where each chunk's verdicts end in
    the shard's verdict file."""
    PART = "PART#"
    """Assemble: how many rows one part of the target holds."""

    def item(self, number: int) -> str:
        """The sort key of piece `number` of this kind."""
        return f"{self.value}{number:05d}"


@dataclass(frozen=True)
class Piece:
    """What one Classify shard or Assemble chunk counted."""

    item: str
    execution_arn: str
    rows: int
    targeted: int
    excluded: dict[ExclusionCause, int] = field(default_factory=dict)
    consent_as_of: datetime | None = None
    ends: tuple[int, ...] = ()
    """The byte where each section of the piece's file ends (see `PieceKind`)."""

    def section(self, number: int) -> tuple[int, int]:
        """Bytes [start, end) of section `number` of the piece's file."""
        return (self.ends[number - 1] if number else 0), self.ends[number]


def put_piece(delivery_id: str, piece: Piece, now: datetime) -> None:
    """Store one piece's counts, as long as its execution owns the record (idempotent)."""
    item = AnalysisModel(
        delivery_id,
        piece.item,
        execution_arn=piece.execution_arn,
        audience_size=piece.rows,
        target_size=piece.targeted,
        excluded={cause.value: count for cause, count in piece.excluded.items()} or None,
        consent_as_of=piece.consent_as_of,
        ends=list(piece.ends) or None,
        updated_at=now,
        expires_at=now + KEPT_FOR,
    )
    try:
        with dynamodb(), TransactWrite(connection=transactions()) as transaction:
            transaction.condition_check(
                AnalysisModel,
                delivery_id,
                RECORD,
                condition=AnalysisModel.execution_arn == piece.execution_arn,
            )
            transaction.save(item)
    except LostRace:
        raise AnalysisConflictError(
            f"{piece.execution_arn} no longer owns the analysis of {delivery_id!r}"
        ) from None


def pieces(delivery_id: str, kind: PieceKind) -> list[Piece]:
    with dynamodb():
        items = list(
            AnalysisModel.query(
                delivery_id, AnalysisModel.item.startswith(kind.value), consistent_read=True
            )
        )
    return [
        Piece(
            item=item.item,
            execution_arn=item.execution_arn or "",
            rows=int(item.audience_size or 0),
            targeted=int(item.target_size or 0),
            excluded={
                ExclusionCause(cause): int(count)
                for cause, count in plain_map(item.excluded).items()
            },
            consent_as_of=item.consent_as_of,
            ends=tuple(int(end) for end in item.ends or ()),
        )
        for item in items
    ]


def delete_pieces(delivery_id: str) -> None:
    """Remove the pieces an earlier execution left (they are no one's now)."""
    with dynamodb():
        for item in AnalysisModel.query(delivery_id, consistent_read=True):
            if item.item != RECORD:
                item.delete()
