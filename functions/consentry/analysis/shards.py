"""The rows of one shard of an analysis run, wherever they are: the audience itself when
the run has one shard, else the files Partition wrote for the shard, chunk by chunk.

Classify reads them (to look up their keys), and so does the API's explain (to find a
row and its number in the audience).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import accumulate

from consentry.analysis import files, record_store
from consentry.analysis.audience import RowPlace, rows
from consentry.analysis.contract import IncompleteAnalysisError
from consentry.analysis.record_store import piece_key
from consentry.analysis.run import RunPlan

CHUNK = "CHUNK#"
"""The analysis item Partition writes per chunk: how many rows the chunk holds."""


def chunk_offsets(plan: RunPlan) -> list[int]:
    """The audience row number before each chunk's first row, from Partition's counts."""
    chunks = {p.item: p for p in record_store.pieces(plan.request.delivery_id, CHUNK)}
    counts = []
    for chunk in range(len(plan.chunks)):
        piece = chunks.get(piece_key(CHUNK, chunk))
        if piece is None or piece.execution_arn != plan.execution_arn:
            raise IncompleteAnalysisError(f"chunk {chunk} was not partitioned by this run")
        counts.append(piece.rows)
    return [0, *accumulate(counts)]


def shard_rows(plan: RunPlan, shard: int) -> Iterator[tuple[int, str, str]]:
    """(row number in the audience, profile id, address as written) of the shard's rows."""
    if not plan.partitioned:
        audience = plan.request.audience
        with files.open_text(
            audience.bucket, audience.key, plan.etag, plan.data_start, plan.size
        ) as lines:
            for number, (_, profile_id, address) in enumerate(
                rows(lines, plan.layout, RowPlace()), start=1
            ):
                yield number, profile_id, address
        return
    offsets = chunk_offsets(plan)
    for chunk in range(len(plan.chunks)):
        offset = offsets[chunk] + 1
        with files.open_object(plan.bucket, plan.shard_input(shard, chunk)) as text:
            for index, profile_id, address in csv.reader(text):
                yield offset + int(index), profile_id, address
