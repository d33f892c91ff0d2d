"""Analysis step 4, Assemble (more than one shard): write one chunk's target part, its
targeted rows in audience order, from the verdicts every shard gave the chunk's rows
(each shard's section for the chunk, read by range from its verdict file)."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from array import array
from collections.abc import Iterable
from typing import IO

from analyze.step import ChunkTask, StepPayload, Wiring, load_stored, step
from consentry.analysis import piece_store
from consentry.analysis.audience import Layout, RowPlace, rows, target_join
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.run import RunPlan, read_verdicts
from consentry.analysis.terms import IncompleteAnalysisError
from consentry.core.bucket import DataBucket, ObjectGoneError, spools

WRITE_BATCH = 8192
"""Rows written to the target part at once."""


class Assembled(StepPayload, frozen=True, kw_only=True):
    chunk: int
    rows: int
    targeted: int


@step(ChunkTask, keeps_error="3-assemble")
def lambda_handler(task: ChunkTask, wiring: Wiring) -> Assembled:
    plan = load_stored(wiring.bucket, task.plan, RunPlan, "plan")
    try:
        assembled = assemble_chunk(plan, wiring.bucket, task.chunk)
    except ObjectGoneError as gone:
        raise plan.gone(gone) from None
    piece_store.put_piece(
        plan.request.delivery_id,
        Piece(
            PieceKind.PART.item(task.chunk),
            plan.execution_arn,
            rows=assembled.rows,
            targeted=assembled.targeted,
        ),
        wiring.clock(),
    )
    return assembled


def assemble_chunk(plan: RunPlan, bucket: DataBucket, chunk: int) -> Assembled:
    """Write one chunk's target part: its rows in audience order, the targeted ones only.

    Every row of the chunk must have a verdict from some shard, or nothing is written.
    """
    expected = 0
    marks: list[array[int]] = []
    for shard, piece in enumerate(_shard_pieces(plan)):
        start, end = piece.section(chunk)
        classified, targeted = read_verdicts(bucket.read(plan.verdicts(shard), None, start, end))
        expected += classified
        marks.append(targeted)
    targeted_rows = bytearray(expected)
    for targeted in marks:
        for index in targeted:
            targeted_rows[index] = 1
    targeted_count = sum(targeted_rows)
    if targeted_count != sum(len(targeted) for targeted in marks):
        raise IncompleteAnalysisError(f"chunk {chunk}: two shards target the same row")
    span = plan.chunks[chunk]
    with (
        spools(1) as (target,),
        bucket.open_text(plan.request.audience.key, plan.etag, span.start, span.end) as lines,
    ):
        count = assemble_lines(
            lines, plan.layout, targeted_rows, target.text, RowPlace(after_byte=span.start)
        )
        if count != expected:
            raise IncompleteAnalysisError(
                f"chunk {chunk} has {count} rows but {expected} verdicts; nothing was written"
            )
        target.upload(bucket, plan.target_part(chunk), plan.content_type)
    return Assembled(chunk=chunk, rows=count, targeted=targeted_count)


def _shard_pieces(plan: RunPlan) -> list[Piece]:
    """Classify's pieces of this run, in shard order, each with its verdict file's index."""
    found = {p.item: p for p in piece_store.pieces(plan.request.delivery_id, PieceKind.SHARD)}
    pieces = []
    for shard in range(plan.shards):
        piece = found.get(PieceKind.SHARD.item(shard))
        if piece is None or piece.execution_arn != plan.execution_arn:
            raise IncompleteAnalysisError(f"shard {shard} was not classified by this run")
        if len(piece.ends) != len(plan.chunks):
            raise IncompleteAnalysisError(f"shard {shard} has no index of its verdicts")
        pieces.append(piece)
    return pieces


def assemble_lines(
    lines: Iterable[str], layout: Layout, targeted: bytearray, target: IO[str], place: RowPlace
) -> int:
    """The rows whose flag in `targeted` is set, in order, to `target`; the number of rows
    read (rows past the flags are counted, never written)."""
    target.write(layout.header_line)
    join = target_join(layout)
    batch: list[str] = []
    flagged = len(targeted)
    count = 0
    for index, (text, _, _) in enumerate(rows(lines, layout, place)):
        if index < flagged and targeted[index]:
            batch.append(text)
            if len(batch) == WRITE_BATCH:
                target.write(join(batch))
                batch.clear()
        count = index + 1
    target.write(join(batch))
    return count


cold_start.loaded()
