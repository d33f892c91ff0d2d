"""Partition, Classify and Assemble: the steps that read and write rows.

Each step streams its input from S3, keeps its output in spooled files (memory, then
/tmp) and writes each output object whole at the end, then stores its counts as one
item of the analysis (conditioned on the run still owning it, idempotent on retry).
A retried step starts over and writes the same objects again.
"""

from __future__ import annotations

import csv
import io
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import IO

from analyze.suppression import from_snapshot, looked_up
from consentry.analysis import files, record_store
from consentry.analysis.audience import Layout, Row, RowPlace, not_utf8, rows
from consentry.analysis.classifier import (
    CAUSES,
    TARGETED,
    VERDICTS,
    ShardClassifier,
    Suppression,
    normalizer,
    shard_of,
)
from consentry.analysis.classify_csv import CAUSE_NAMES, LOG_HEADER, classify_csv, log_line
from consentry.analysis.contract import AudienceFormat, IncompleteAnalysisError
from consentry.analysis.record_store import Piece, piece_key
from consentry.analysis.run import SNAPSHOT_FILE, RunPlan, SuppressionRead
from consentry.analysis.shards import CHUNK, chunk_offsets, shard_rows
from consentry.analysis.suppression_store import ReadMeter
from consentry.core.clock import Clock
from consentry.core.types import Address

WRITE_BATCH = 8192
"""Rows written to an output at once."""
READ_BLOCK = 1 << 16
"""Characters of an audience read (and classified) at once."""
SPOOL_BYTES = 16 * 1024 * 1024
"""An output up to this size stays in memory; a larger one spills to /tmp."""


# ---------------------------------------------------------------- outputs


class TextSpool:
    """A text file kept in memory, then /tmp, until it is uploaded whole."""

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by close)
        self.text = io.TextIOWrapper(self._file, encoding="utf-8", newline="")

    def upload(self, bucket: str, key: str, content_type: str) -> None:
        self.text.flush()
        files.upload(bucket, key, self._file, content_type)

    def close(self) -> None:
        self.text.close()


@contextmanager
def spools(count: int) -> Iterator[list[TextSpool]]:
    opened = [TextSpool() for _ in range(count)]
    try:
        yield opened
    finally:
        for spool in opened:
            spool.close()


def _content_type(plan: RunPlan) -> str:
    return "text/csv" if plan.extension == "csv" else "application/x-ndjson"


def _verdict_bytes(rows: int, targeted: array[int]) -> bytes:
    """rows, then the index in its chunk of each targeted row; uint32, little-endian."""
    data = array("I", [rows, len(targeted)])
    data.extend(targeted)
    if sys.byteorder == "big":
        data.byteswap()
    return data.tobytes()


def _read_verdicts(raw: bytes) -> tuple[int, array[int]]:
    data = array("I")
    data.frombytes(raw)
    if sys.byteorder == "big":
        data.byteswap()
    if len(data) < 2 or len(data) != 2 + data[1]:
        raise IncompleteAnalysisError("a verdict file is cut short")
    return data[0], data[2:]


# ---------------------------------------------------------------- Partition


def partition_chunk(plan: RunPlan, chunk: int, now: datetime) -> dict[str, int]:
    """Split one chunk's rows into the shards their addresses hash to, keeping each
    row's index in the chunk."""
    span = plan.chunks[chunk]
    audience = plan.request.audience
    with (
        spools(plan.shards) as outputs,
        files.open_text(audience.bucket, audience.key, plan.etag, span.start, span.end) as lines,
    ):
        count = partition_lines(
            lines,
            plan.layout,
            normalizer(plan.request.channel, plan.default_region),
            [output.text for output in outputs],
            RowPlace(after_byte=span.start),
        )
        for shard, output in enumerate(outputs):
            output.upload(plan.bucket, plan.shard_input(shard, chunk), "text/csv")
    record_store.put_piece(
        plan.request.delivery_id,
        Piece(piece_key(CHUNK, chunk), plan.execution_arn, rows=count, targeted=0),
        now,
    )
    return {"chunk": chunk, "rows": count}


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


# ---------------------------------------------------------------- Classify


def classify_shard(plan: RunPlan, shard: int, clock: Clock) -> dict[str, int]:
    """Classify one shard: the exclusion log of its rows, and the target (one shard) or
    the targeted rows of each chunk (Assemble writes the target)."""
    consent_as_of, suppression = _suppression(plan, shard, clock)
    counts = [0] * VERDICTS
    if plan.partitioned:
        offsets = chunk_offsets(plan)
        classified = _classify_partitioned(plan, shard, suppression, offsets, counts)
    else:
        classified = _classify_audience(plan, suppression, counts)
    piece = Piece(
        piece_key(record_store.SHARD, shard),
        plan.execution_arn,
        rows=classified,
        targeted=counts[TARGETED],
        excluded={cause: counts[number] for number, cause in enumerate(CAUSES, start=1)},
        consent_as_of=consent_as_of,
    )
    record_store.put_piece(plan.request.delivery_id, piece, clock())
    return {"shard": shard, "rows": classified, "targeted": counts[TARGETED]}


def _suppression(plan: RunPlan, shard: int, clock: Clock) -> tuple[datetime | None, Suppression]:
    """The shard's suppression data, and when it was read if the shard read it."""
    if plan.suppression is SuppressionRead.SNAPSHOT:
        document = files.get_bytes(plan.bucket, plan.key(SNAPSHOT_FILE))
        return None, from_snapshot(document)
    profiles: set[str] = set()
    addresses: set[str] = set()
    normalize = normalizer(plan.request.channel, plan.default_region)
    for _, profile_id, raw in shard_rows(plan, shard):
        profiles.add(profile_id)
        address = normalize(raw) if raw.strip() else None
        if address is not None:
            addresses.add(address)
    at = clock()
    suppression = looked_up(
        plan.request, profiles=profiles, addresses=addresses, at=at, meter=ReadMeter()
    )
    return at, suppression


def _classify_audience(plan: RunPlan, suppression: Suppression, counts: list[int]) -> int:
    """One shard: read the audience, write the target and the exclusion log."""
    audience = plan.request.audience
    dry_run = plan.request.dry_run
    with (
        files.open_text(
            audience.bucket, audience.key, plan.etag, plan.data_start, plan.size
        ) as lines,
        spools(2) as (log, target),
    ):
        number = classify_lines(
            lines,
            plan.layout,
            ShardClassifier(suppression, plan.rules),
            counts,
            log=log.text,
            target=None if dry_run else target.text,
        )
        log.upload(plan.bucket, plan.exclusions_part(0), "text/csv")
        if not dry_run:
            target.upload(plan.bucket, plan.target_part(0), _content_type(plan))
    return number


def classify_lines(
    text: IO[str],
    layout: Layout,
    classifier: ShardClassifier,
    counts: list[int],
    *,
    log: IO[str],
    target: IO[str] | None,
) -> int:
    """The classify loop over an audience's data rows: each excluded row to the exclusion
    log, each targeted row (as it came in) to the target, unless there is none (a dry
    run); counts per verdict into `counts`. The number of rows.

    Rows are read and written in blocks: one write per block costs less than one per row."""
    log.write(LOG_HEADER)
    if target is not None:
        target.write(layout.header_line)
    number = 0
    for targeted, excluded, count in _classified_blocks(text, layout, classifier, counts):
        if target is not None:
            target.write("".join(targeted))
        log.write("".join(excluded))
        number += count
    counts[TARGETED] = number - sum(counts)
    return number


def _classified_blocks(
    text: IO[str], layout: Layout, classifier: ShardClassifier, counts: list[int]
) -> Iterator[tuple[list[str], list[str], int]]:
    """Per block of rows (CSV) or batch of WRITE_BATCH rows (JSONL): the targeted rows
    as written, the log's lines, the row count."""
    place = RowPlace()
    if layout.format is AudienceFormat.JSONL:
        yield from _classified_rows(rows(text, layout, place), classifier, counts)
        return
    number = 0
    try:
        while block := text.readlines(READ_BLOCK):
            targeted, excluded, count = classify_csv(
                block, text, layout, classifier, counts, rows_before=number, place=place
            )
            number += count
            yield targeted, excluded, count
    except UnicodeDecodeError:
        raise not_utf8(place, number) from None


def _classified_rows(
    audience_rows: Iterable[Row], classifier: ShardClassifier, counts: list[int]
) -> Iterator[tuple[list[str], list[str], int]]:
    """The same, a row at a time: for JSONL audiences."""
    targeted: list[str] = []
    excluded: list[str] = []
    number = 0
    for number, (text, profile_id, address) in enumerate(audience_rows, start=1):
        code = classifier(profile_id, address)
        if code:
            counts[code] += 1
            excluded.append(log_line(number, profile_id, address.strip(), code))
        else:
            targeted.append(text)
        if number % WRITE_BATCH == 0:
            yield targeted, excluded, WRITE_BATCH
            targeted, excluded = [], []
    yield targeted, excluded, number % WRITE_BATCH


def _classify_partitioned(
    plan: RunPlan, shard: int, suppression: Suppression, offsets: list[int], counts: list[int]
) -> int:
    """One shard of many: its rows come from Partition; the targeted rows of each chunk
    go to Assemble."""
    classifier = ShardClassifier(suppression, plan.rules)
    classified = 0
    with spools(1) as (log,):
        log_row = _log_writer(log.text)
        for chunk in range(len(plan.chunks)):
            with files.open_object(plan.bucket, plan.shard_input(shard, chunk)) as text:
                chunk_rows, targeted = classify_shard_input(
                    text, classifier, offsets[chunk] + 1, counts, log_row
                )
            classified += chunk_rows
            if not plan.request.dry_run:
                files.put_bytes(
                    plan.bucket,
                    plan.verdicts(chunk, shard),
                    _verdict_bytes(chunk_rows, targeted),
                    "application/octet-stream",
                )
        counts[TARGETED] = classified - sum(counts)
        log.upload(plan.bucket, plan.exclusions_part(shard), "text/csv")
    return classified


def classify_shard_input(
    text: Iterable[str],
    classifier: ShardClassifier,
    first_row: int,
    counts: list[int],
    log_row: Callable[[tuple[object, ...]], object],
) -> tuple[int, array[int]]:
    """Classify one chunk's rows of a shard, as Partition wrote them (index in the
    chunk, profile id, address); the chunk's first row is row `first_row` of the
    audience. Returns the number of rows and the indexes of the targeted ones."""
    targeted: array[int] = array("I")
    rows_read = 0
    for index, profile_id, address in csv.reader(text):
        rows_read += 1
        code = classifier(profile_id, address)
        if code:
            counts[code] += 1
            log_row((first_row + int(index), profile_id, address.strip(), CAUSE_NAMES[code]))
        else:
            targeted.append(int(index))
    return rows_read, targeted


def _log_writer(log: IO[str]) -> Callable[[tuple[object, ...]], object]:
    log.write(LOG_HEADER)
    return csv.writer(log, lineterminator="\n").writerow


# ---------------------------------------------------------------- Assemble


def assemble_chunk(plan: RunPlan, chunk: int, now: datetime) -> dict[str, int]:
    """Write one chunk's target part: its rows in audience order, the targeted ones only.

    Every row of the chunk must have a verdict from some shard, or nothing is written.
    """
    expected = 0
    marks: list[array[int]] = []
    for shard in range(plan.shards):
        classified, targeted = _read_verdicts(
            files.get_bytes(plan.bucket, plan.verdicts(chunk, shard))
        )
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
    audience = plan.request.audience
    with (
        spools(1) as (target,),
        files.open_text(audience.bucket, audience.key, plan.etag, span.start, span.end) as lines,
    ):
        count = assemble_lines(
            lines, plan.layout, targeted_rows, target.text, RowPlace(after_byte=span.start)
        )
        if count != expected:
            raise IncompleteAnalysisError(
                f"chunk {chunk} has {count} rows but {expected} verdicts; nothing was written"
            )
        target.upload(plan.bucket, plan.target_part(chunk), _content_type(plan))
    record_store.put_piece(
        plan.request.delivery_id,
        Piece(
            piece_key(record_store.PART, chunk),
            plan.execution_arn,
            rows=count,
            targeted=targeted_count,
        ),
        now,
    )
    return {"chunk": chunk, "rows": count, "targeted": targeted_count}


def assemble_lines(
    lines: Iterable[str], layout: Layout, targeted: bytearray, target: IO[str], place: RowPlace
) -> int:
    """The rows whose flag in `targeted` is set, in order, to `target`; the number of rows
    read (rows past the flags are counted, never written)."""
    target.write(layout.header_line)
    batch: list[str] = []
    flagged = len(targeted)
    count = 0
    for index, (text, _, _) in enumerate(rows(lines, layout, place)):
        if index < flagged and targeted[index]:
            batch.append(text)
            if len(batch) == WRITE_BATCH:
                target.write("".join(batch))
                batch.clear()
        count = index + 1
    target.write("".join(batch))
    return count
