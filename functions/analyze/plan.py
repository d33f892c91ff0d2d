"""Analysis step 1, Plan: validate the request, claim the delivery, size the work, read
the suppression data.

Everything that can be refused is checked before any consent data is read: the
request, the service, the audience's header. The record is claimed only then, so a
bad request never replaces an earlier result. The audience is split into shards of
about `shard_rows` rows, counted, never extrapolated; above one shard, Partition
splits it in chunks of whole rows found in the same read (in CSV a newline inside a
quoted field does not end a row, so chunk edges cannot be guessed from byte offsets).

When the audience must be read to be counted, Plan hands that to the Count map
(analyze.count: one function per byte range, all at once) and is invoked again with
their scans (`sized_run`), which it stitches into the rows and the chunks' edges
before it reads the suppression data. What it knew before the count waits in the
run's `sizing.json`.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import itertools
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from analyze.sizing import EDGES, ScannedRange, Sizing, load_sizing
from analyze.step import ObjectRef, StepPayload, Wiring, step, store
from consentry.analysis import record_store, snapshot_store
from consentry.analysis.audience import (
    SAMPLE_BYTES,
    Layout,
    RowCount,
    layout_of,
    most_rows,
    stitch,
)
from consentry.analysis.run import (
    MANIFEST_FILE,
    PLAN_FILE,
    SIZING_FILE,
    SNAPSHOT_FILE,
    Chunk,
    RunPlan,
    SuppressionRead,
)
from consentry.analysis.suppression import ReadMeter, choose_read, snapshot_sizes
from consentry.analysis.terms import (
    CHANGED,
    AudienceError,
    AudienceFormat,
    CheckedRequest,
    IncompleteAnalysisError,
    check_request,
    run_prefix,
)
from consentry.consent import service_store
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.observability import logger
from consentry.core.settings import Settings

MAX_CHUNKS = EDGES
"""Partition is an inline map: its items travel in the execution's state."""
MAX_SHARDS = 10000
SHARD_SLACK = 1.1
"""A shard holds at most 10 % more rows than `shard_rows`: an audience of about one
shard does not become two, and the hash's spread over several shards stays within it."""


class PlanInput(StepPayload, frozen=True, kw_only=True):
    """What the state machine hands Plan: its own input (the request, checked here), the
    execution, and the deployment's map concurrency; after the Count map, where the
    sizing is and the ranges' scans instead of the request."""

    request: Any = None
    execution_arn: str
    map_concurrency: int
    sizing: ObjectRef | None = None
    counted: list[ScannedRange] | None = None


class Partitioning(StepPayload, frozen=True, kw_only=True):
    needed: bool
    chunks: list[dict[str, int]]
    """One `{"chunk": n}` per chunk: the Partition and Assemble maps' items."""


class Counting(StepPayload, frozen=True, kw_only=True):
    needed: bool
    ranges: list[dict[str, int]]
    """One `{"range": n}` per range: the Count map's items."""


class PlanOutput(StepPayload, frozen=True, kw_only=True):
    delivery_id: str
    map_concurrency: int
    plan_ref: ObjectRef
    manifest: ObjectRef
    partition: Partitioning
    assemble: bool
    count: Counting = msgspec.field(default_factory=lambda: Counting(needed=False, ranges=[]))
    """Not needed: the NeedsCount choice goes on to Partition."""


class CountOutput(StepPayload, frozen=True, kw_only=True):
    """Plan's result when the audience must be counted first: the Count map's items."""

    delivery_id: str
    map_concurrency: int
    sizing: ObjectRef
    count: Counting


@step(PlanInput)
def lambda_handler(task: PlanInput, wiring: Wiring) -> PlanOutput | CountOutput:
    run = Run(task.execution_arn, task.map_concurrency, wiring.settings, wiring.bucket)
    if task.sizing is not None and task.counted is not None:
        return sized_run(task.sizing, task.counted, run, wiring.clock())
    return plan_run(task.request, run, wiring.clock())


@dataclass(frozen=True)
class Run:
    """The execution Plan works for, and what it works with."""

    execution_arn: str
    map_concurrency: int
    settings: Settings
    bucket: DataBucket


def plan_run(raw_request: Any, run: Run, now: datetime) -> PlanOutput | CountOutput:
    """Plan one execution: the state the next steps read, or, when the audience must be
    counted first, the Count map's items."""
    bucket = run.bucket
    request = check_request(raw_request)
    _check_request(request, bucket)
    audience = request.audience
    size, etag = _head_audience(bucket, audience.key)
    sample = _read_audience(bucket, audience.key, etag, min(size, SAMPLE_BYTES))
    layout, data_start = layout_of(audience, sample, size)
    record_store.claim(request, run.execution_arn, now)

    rows = _rows_without_count(layout, sample, (data_start, size), run.settings.shard_rows)
    if rows is not None:
        return _plan(request, etag, (data_start, size), layout, (rows, []), run, now)
    sizing = Sizing(
        request=request,
        etag=etag,
        size=size,
        data_start=data_start,
        layout=layout,
        range_bytes=run.settings.count_range_bytes,
    )
    key = run_prefix(request.delivery_id, run.execution_arn) + SIZING_FILE
    store(bucket, key, sizing)
    ranges = len(sizing.cuts()) - 1
    logger.info(
        "audience to count",
        extra={"delivery_id": request.delivery_id, "bytes": size, "ranges": ranges},
    )
    return CountOutput(
        delivery_id=request.delivery_id,
        map_concurrency=run.map_concurrency,
        sizing=ObjectRef(bucket=bucket.name, key=key),
        count=Counting(needed=True, ranges=[{"range": n} for n in range(ranges)]),
    )


def sized_run(ref: ObjectRef, counted: list[ScannedRange], run: Run, now: datetime) -> PlanOutput:
    """Plan the execution once Count has read the audience: stitch the ranges' scans into
    its rows and chunks, then go on as for an audience that needed no count."""
    sizing = load_sizing(run.bucket, ref)
    if len(counted) != len(sizing.cuts()) - 1:
        raise IncompleteAnalysisError(
            f"the count has {len(counted)} ranges, the sizing {len(sizing.cuts()) - 1}"
        )
    for number, scanned in enumerate(counted):
        _, end, targets = sizing.range_of(number)
        if (scanned.end, scanned.targets) != (end, targets):
            raise IncompleteAnalysisError(f"the count's range {number} is not the sizing's")
    targets = sizing.targets()
    rows, starts = stitch([scanned.scan() for scanned in counted], targets, sizing.length)
    span = (sizing.data_start, sizing.size)
    return _plan(
        sizing.request,
        sizing.etag,
        span,
        sizing.layout,
        (rows, _chunks(rows, starts, span, run.settings.shard_rows)),
        run,
        now,
    )


def _plan(  # noqa: PLR0917 (what Plan knows of the audience, in one call)
    request: CheckedRequest,
    etag: str,
    span: tuple[int, int],
    layout: Layout,
    sized: tuple[int, list[Chunk]],
    run: Run,
    now: datetime,
) -> PlanOutput:
    """Read the suppression data, then write the plan and the shard manifest."""
    settings, bucket = run.settings, run.bucket
    rows, chunks = sized
    shards = 1 if not chunks else shard_count(rows, settings.shard_rows)
    prefix = run_prefix(request.delivery_id, run.execution_arn)
    sizes = snapshot_sizes(request.service if request.marketing else None)
    read = choose_read(request, rows, sizes)
    consent_as_of = None
    meter = ReadMeter()
    if read is SuppressionRead.SNAPSHOT:
        consent_as_of = now
        max_age = timedelta(minutes=settings.suppression_snapshot_max_age_minutes)
        document = snapshot_store.current(request, bucket, now, max_age, meter)
        bucket.put_json(prefix + SNAPSHOT_FILE, document)
        record_store.set_consent_as_of(request.delivery_id, run.execution_arn, now)
    data_start, size = span
    plan = RunPlan(
        request=request,
        execution_arn=run.execution_arn,
        bucket=bucket.name,
        prefix=prefix,
        etag=etag,
        size=size,
        data_start=data_start,
        layout=layout,
        shards=shards,
        chunks=chunks,
        suppression=read,
        consent_as_of=consent_as_of,
        default_region=settings.default_phone_region,
        smtputf8=settings.sender_smtputf8,
        sms_any_number_type=settings.sms_any_number_type,
    )
    store(bucket, plan.key(PLAN_FILE), plan)
    manifest = plan.key(MANIFEST_FILE)
    bucket.put_json(manifest, [{"shard": s} for s in range(shards)])
    logger.info(
        "analysis planned",
        extra={
            "delivery_id": request.delivery_id,
            "estimated_rows": rows,
            "shards": shards,
            "chunks": len(chunks),
            "suppression": read.value,
            "snapshot_read_units": meter.read_units,
        },
    )
    return PlanOutput(
        delivery_id=request.delivery_id,
        map_concurrency=run.map_concurrency,
        plan_ref=ObjectRef(bucket=bucket.name, key=plan.key(PLAN_FILE)),
        manifest=ObjectRef(bucket=bucket.name, key=manifest),
        partition=Partitioning(
            needed=plan.partitioned, chunks=[{"chunk": n} for n in range(len(chunks))]
        ),
        assemble=plan.partitioned and not request.dry_run,
    )


def _head_audience(bucket: DataBucket, key: str) -> tuple[int, str]:
    try:
        return bucket.head(key)
    except ObjectGoneError as gone:
        raise AudienceError(f"the audience cannot be read: {gone.why}") from None


def _read_audience(bucket: DataBucket, key: str, etag: str, end: int) -> bytes:
    try:
        return bucket.read(key, etag, 0, end)
    except ObjectGoneError:
        raise AudienceError(CHANGED) from None


def _check_request(request: CheckedRequest, bucket: DataBucket) -> None:
    if request.audience.bucket != bucket.name:
        raise InvalidInputError(
            "audience.uri", "audiences are read from the deployment's data bucket"
        )
    if request.service is None:
        return
    try:
        service = service_store.get_service(request.service)
    except NotFoundError:
        raise InvalidInputError("serviceId", f"no service {request.service_id!r}") from None
    if service.channel is not request.channel:
        raise InvalidInputError(
            "serviceId",
            f"service {request.service_id!r} is for {service.channel.value}, "
            f"not {request.channel.value}",
        )


def estimate_rows(sample: bytes, data_start: int, size: int) -> int:
    """The audience's data rows, extrapolated from the sample (to choose how suppression
    data is read, never to size shards)."""
    body = sample[data_start:]
    lines = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
    if len(sample) >= size or not body:
        return lines
    return math.ceil((size - data_start) * lines / len(body))


def shard_count(rows: int, shard_rows: int) -> int:
    """The shards for at most `rows` rows: one up to SHARD_SLACK times `shard_rows`, else
    enough for `shard_rows` each on average (the hash spreads them; the slack is its
    margin). More than MAX_SHARDS is refused."""
    if rows <= shard_rows * SHARD_SLACK:
        return 1
    shards = math.ceil(rows / shard_rows)
    if shards > MAX_SHARDS:
        raise AudienceError(
            f"the audience has up to {rows} rows: more than {MAX_SHARDS} shards of {shard_rows}"
        )
    return shards


def _rows_without_count(
    layout: Layout, sample: bytes, span: tuple[int, int], shard_rows: int
) -> int | None:
    """The audience's rows when they are known without reading it whole: counted in the
    sample when it is the whole audience and one shard holds them, estimated from it
    when the bytes cannot hold more rows than one shard takes (rows of their smallest
    size). None when the audience must be counted (`Count`): the rows are counted,
    never extrapolated, so no shard grows past SHARD_SLACK times `shard_rows`. A count
    may be high (blank lines count), never low."""
    data_start, size = span
    if len(sample) >= size:
        counted = RowCount(layout.format is AudienceFormat.CSV)
        for _ in counted.through([sample[data_start:]]):
            pass
        return counted.rows if shard_count(counted.rows, shard_rows) == 1 else None
    if most_rows(size - data_start, layout) <= shard_rows * SHARD_SLACK:
        # One shard whatever the rows; the sample's rate is enough to choose the read.
        return estimate_rows(sample, data_start, size)
    return None


def _chunks(rows: int, starts: list[int], span: tuple[int, int], shard_rows: int) -> list[Chunk]:
    """The chunks Partition splits a counted audience in (none for one shard): as many as
    its shards (at most MAX_CHUNKS), cut at the row starts found nearest to even byte
    offsets (`starts`: one per EDGES target, from the first data row)."""
    shards = shard_count(rows, shard_rows)
    if shards == 1:
        return []
    data_start, size = span
    count = min(shards, MAX_CHUNKS)
    picked = [starts[round(EDGES * number / count) - 1] for number in range(1, count)]
    edges = sorted({data_start, *(data_start + start for start in picked), size})
    return [Chunk(start=start, end=end) for start, end in itertools.pairwise(edges)]


cold_start.loaded()
