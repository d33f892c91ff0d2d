"""Analysis step 3, Classify (a distributed map over the shard manifest): classify one
shard. Its exclusion log goes to `exclusions/`; with one shard, its targeted rows go
straight to the target; with several, which rows of each chunk it targets goes to its
one file under `verdicts/` for Assemble, chunk after chunk (where each chunk's section
ends is stored with the shard's piece).

Each output is kept in a spooled file (memory, then /tmp) and written whole at the
end; the shard's counts are then stored as one item of the analysis (conditioned on
the run still owning it, idempotent on retry). A retried step starts over and writes
the same objects again.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import IO, TYPE_CHECKING

from analyze.step import ShardTask, StepPayload, Wiring, load_stored, step
from consentry.analysis import piece_store
from consentry.analysis.audience import Layout, Row, RowPlace, not_utf8, rows, target_join
from consentry.analysis.classifier import (
    CAUSES,
    TARGETED,
    VERDICTS,
    ShardClassifier,
    Suppression,
)
from consentry.analysis.classify_csv import (
    LOG_HEADER,
    classify_csv,
    classify_partition_csv,
    log_line,
)
from consentry.analysis.piece_store import Piece, PieceKind
from consentry.analysis.run import (
    SNAPSHOT_FILE,
    RunPlan,
    SuppressionRead,
    chunk_index,
    shard_rows,
    verdict_bytes,
)
from consentry.analysis.suppression import ReadMeter, from_snapshot, looked_up
from consentry.analysis.terms import AudienceFormat, IncompleteAnalysisError
from consentry.core.bucket import SPOOL_BYTES, DataBucket, ObjectGoneError, spools
from consentry.core.clock import Clock

if TYPE_CHECKING:
    from consentry.consent.tokens import Keyring

WRITE_BATCH = 8192
"""Rows written to an output at once (JSONL audiences)."""
READ_BLOCK = 1 << 16
"""Characters of an audience read (and classified) at once."""


class Classified(StepPayload, frozen=True, kw_only=True):
    shard: int
    rows: int
    targeted: int


@step(ShardTask, keeps_error="2-classify")
def lambda_handler(task: ShardTask, wiring: Wiring) -> Classified:
    return classify_shard(
        load_stored(wiring.bucket, task.plan, RunPlan, "plan"),
        task.shard,
        wiring.bucket,
        wiring.clock,
        erasure_keys=wiring.erasure_keyring,
    )


def classify_shard(
    plan: RunPlan,
    shard: int,
    bucket: DataBucket,
    clock: Clock,
    *,
    erasure_keys: Callable[[], Keyring] | None = None,
) -> Classified:
    """Classify one shard: the exclusion log of its rows, and the target (one shard) or
    the targeted rows of each chunk (Assemble writes the target). Erased addresses are
    matched by their fingerprints under `erasure_keys` (read only when there are any)."""
    counts = [0] * VERDICTS
    try:
        consent_as_of, suppression = _suppression(plan, bucket, shard, clock)
        if suppression.erased:
            if erasure_keys is None:
                raise IncompleteAnalysisError("erased addresses, and no key to match them")
            # Loaded here: only an audience whose suppression holds erased addresses
            # needs the fingerprints (with their store and the keys' parameters).
            from consentry.privacy import fingerprints  # noqa: PLC0415

            verdict = fingerprints.matcher(erasure_keys(), plan.rules.channel, suppression.erased)
            suppression = replace(suppression, erased_verdict=lambda a: verdict(a) or 0)
        ends: tuple[int, ...] = ()
        if plan.partitioned:
            classified, ends = _classify_partitioned(plan, bucket, shard, suppression, counts)
        else:
            classified = _classify_audience(plan, bucket, suppression, counts)
    except ObjectGoneError as gone:
        raise plan.gone(gone) from None
    piece = Piece(
        PieceKind.SHARD.item(shard),
        plan.execution_arn,
        rows=classified,
        targeted=counts[TARGETED],
        excluded={cause: counts[number] for number, cause in enumerate(CAUSES, start=1)},
        consent_as_of=consent_as_of,
        ends=ends,
    )
    piece_store.put_piece(plan.request.delivery_id, piece, clock())
    return Classified(shard=shard, rows=classified, targeted=counts[TARGETED])


def _suppression(
    plan: RunPlan, bucket: DataBucket, shard: int, clock: Clock
) -> tuple[datetime | None, Suppression]:
    """The shard's suppression data, and when it was read if the shard read it."""
    if plan.suppression is SuppressionRead.SNAPSHOT:
        return None, from_snapshot(bucket.get_bytes(plan.key(SNAPSHOT_FILE)), plan.consent_as_of)
    profiles: set[str] = set()
    addresses: set[str] = set()
    normalize = plan.rules.normalizer()
    for _, profile_id, raw in shard_rows(plan, bucket, shard):
        profiles.add(profile_id)
        address = normalize(raw) if raw.strip() else None
        if address is not None:
            addresses.add(address)
    at = clock()
    suppression = looked_up(
        plan.request, profiles=profiles, addresses=addresses, at=at, meter=ReadMeter()
    )
    return at, suppression


def _classify_audience(
    plan: RunPlan, bucket: DataBucket, suppression: Suppression, counts: list[int]
) -> int:
    """One shard: read the audience, write the target and the exclusion log."""
    dry_run = plan.request.dry_run
    with (
        bucket.open_text(plan.request.audience.key, plan.etag, plan.data_start, plan.size) as lines,
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
        log.upload(bucket, plan.exclusions_part(0), "text/csv")
        if not dry_run:
            target.upload(bucket, plan.target_part(0), plan.content_type)
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

    Rows are read and written in blocks: one write per block costs less than one per row.
    Every row of a CSV target ends with the audience's line end."""
    log.write(LOG_HEADER)
    if target is not None:
        target.write(layout.header_line)
    join = target_join(layout)
    number = 0
    for targeted, excluded, count in _classified_blocks(text, layout, classifier, counts):
        if target is not None:
            target.write(join(targeted))
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
    plan: RunPlan, bucket: DataBucket, shard: int, suppression: Suppression, counts: list[int]
) -> tuple[int, tuple[int, ...]]:
    """One shard of many: its section of each chunk's partition file, through the fused
    loop; the targeted rows of each chunk go to the shard's one verdict file for
    Assemble. The rows, and where each chunk's verdicts end in the file."""
    classifier = ShardClassifier(suppression, plan.rules)
    index = chunk_index(plan)
    classified = 0
    ends: list[int] = []
    with spools(1) as (log,), tempfile.SpooledTemporaryFile(SPOOL_BYTES) as verdicts:
        log.text.write(LOG_HEADER)
        for chunk in range(len(plan.chunks)):
            start, end = index.shard_section(chunk, shard)
            with bucket.open_text(plan.partition_file(chunk), None, start, end) as text:
                chunk_rows, targeted = classify_shard_input(
                    text, classifier, index.offsets[chunk] + 1, counts, log.text
                )
            classified += chunk_rows
            verdicts.write(verdict_bytes(chunk_rows, targeted))
            ends.append(verdicts.tell())
        counts[TARGETED] = classified - sum(counts)
        log.upload(bucket, plan.exclusions_part(shard), "text/csv")
        if not plan.request.dry_run:
            bucket.upload(plan.verdicts(shard), verdicts, "application/octet-stream")
    return classified, tuple(ends)


def classify_shard_input(
    text: IO[str], classifier: ShardClassifier, first_row: int, counts: list[int], log: IO[str]
) -> tuple[int, array[int]]:
    """Classify one chunk's rows of a shard, as Partition wrote them (index in the
    chunk, profile id, address), in blocks through the fused loop; the chunk's first
    row is row `first_row` of the audience. Writes the log's lines to `log`; returns the
    number of rows and the indexes of the targeted ones."""
    targeted: array[int] = array("I")
    rows_read = 0
    while block := text.readlines(READ_BLOCK):
        excluded, count = classify_partition_csv(
            block, text, classifier, counts, first_row=first_row, targeted=targeted
        )
        log.write("".join(excluded))
        rows_read += count
    return rows_read, targeted


cold_start.loaded()
