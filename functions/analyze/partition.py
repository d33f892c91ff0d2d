"""Analysis step 2, Partition (more than one shard): split one chunk of the audience into
shards by the hash of each row's normalized address, so that duplicates meet in one
shard, keeping each row's index in the chunk. The chunk's rows go to one object, shard
after shard; where each shard's rows end is stored with the chunk's piece, and each
Classify child reads its own section."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from analyze.step import ChunkTask, StepPayload, Wiring, load_stored, step
from consentry.analysis import piece_store
from consentry.analysis.audience import Layout, RowPlace, rows
from consentry.analysis.classifier import shard_of
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.run import RunPlan
from consentry.core.bucket import SPOOL_BYTES, ObjectGoneError, TextSpool, spools
from consentry.core.types import Address


class Partitioned(StepPayload, frozen=True, kw_only=True):
    chunk: int
    rows: int


@step(ChunkTask, keeps_error="1-partition")
def lambda_handler(task: ChunkTask, wiring: Wiring) -> Partitioned:
    plan = load_stored(wiring.bucket, task.plan, RunPlan, "plan")
    span = plan.chunks[task.chunk]
    with spools(plan.shards) as outputs:
        try:
            with wiring.bucket.open_text(
                plan.request.audience.key, plan.etag, span.start, span.end
            ) as lines:
                count = partition_lines(
                    lines,
                    plan.layout,
                    plan.rules.normalizer(),
                    [output.text for output in outputs],
                    RowPlace(after_byte=span.start),
                )
        except ObjectGoneError as gone:
            raise plan.gone(gone) from None
        with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as joined:
            ends = tuple(_append(output, joined) for output in outputs)
            wiring.bucket.upload(plan.partition_file(task.chunk), joined, "text/csv")
    piece_store.put_piece(
        plan.request.delivery_id,
        Piece(
            PieceKind.CHUNK.item(task.chunk), plan.execution_arn, rows=count, targeted=0, ends=ends
        ),
        wiring.clock(),
    )
    return Partitioned(chunk=task.chunk, rows=count)


def _append(output: TextSpool, joined: IO[bytes]) -> int:
    """Copy one shard's rows to the end of the chunk's file; where they end."""
    output.text.flush()
    raw = output.text.buffer
    raw.seek(0)
    shutil.copyfileobj(raw, joined)
    return joined.tell()


def partition_lines(
    lines: Iterable[str],
    layout: Layout,
    normalize: Callable[[str], Address | None],
    outputs: Sequence[IO[str]],
    place: RowPlace,
) -> int:
    """Each row's index, profile id and address to the output of its address's shard;
    the number of rows."""
    shards = len(outputs)
    writers = [csv.writer(output, lineterminator="\n").writerow for output in outputs]
    count = 0
    for index, (_, profile_id, address) in enumerate(rows(lines, layout, place)):
        writers[shard_of(address, shards, normalize)]((index, profile_id, address))
        count = index + 1
    return count


cold_start.loaded()
