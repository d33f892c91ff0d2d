"""Analysis step 1, Plan: validate the request, claim the delivery, size the work, read
the suppression data.

Everything that can be refused is checked before any consent data is read: the
request, the service, the audience's header. The record is claimed only then, so a
bad request never replaces an earlier result. The audience is split into shards of
about `shard_rows` rows, counted (`_size`), never extrapolated; above one shard,
Partition splits it in chunks of whole rows that Plan finds in the same read (in CSV a
newline inside a quoted field does not end a row, so chunk edges cannot be guessed
from byte offsets).
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from analyze.step import ObjectRef, StepModel, Wiring, step
from consentry.analysis import record_store, snapshot_store
from consentry.analysis.audience import (
    SAMPLE_BYTES,
    Layout,
    RowCount,
    SegmentScan,
    layout_of,
    most_rows,
    scan_segment,
    stitch,
)
from consentry.analysis.contract import CHANGED, AnalysisRequest, AudienceError, AudienceFormat
from consentry.analysis.run import (
    MANIFEST_FILE,
    PLAN_FILE,
    SNAPSHOT_FILE,
    Chunk,
    RunPlan,
    SuppressionRead,
    run_prefix,
)
from consentry.analysis.suppression import ReadMeter, choose_read, snapshot_sizes
from consentry.consent import service_store
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.observability import logger
from consentry.core.settings import Settings

MAX_CHUNKS = 1000
"""Partition is an inline map: its items travel in the execution's state."""
MAX_SHARDS = 10000
SHARD_SLACK = 1.1
"""A shard holds at most 10 % more rows than `shard_rows`: an audience of about one
shard does not become two, and the hash's spread over several shards stays within it."""
EDGES = MAX_CHUNKS
"""Row starts Plan finds, evenly spaced in bytes, to cut chunks at."""
READ_RANGES = 16
"""Ranges of a large audience read at once to count its rows: threads waiting on S3
(the count itself runs at C speed, about a gigabyte a second)."""
MIN_RANGE_BYTES = 8 << 20


def parse_request(raw: Any) -> AnalysisRequest:
    """The request, or InvalidInputError naming the first field that is wrong."""
    if not isinstance(raw, dict):
        raise InvalidInputError("request", "the input must be a JSON object")
    try:
        return AnalysisRequest.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        message = first["msg"]
        if first["type"] == "missing":
            message = "required"
        elif first["type"] == "enum":
            message = f"{first['msg']} (got {first.get('input')!r})"
        raise InvalidInputError(field, message) from None


class PlanInput(StepModel):
    """What the state machine hands Plan: its own input (the request, checked here), the
    execution, and the deployment's map concurrency."""

    request: Any = None
    execution_arn: str
    map_concurrency: int


class Partitioning(StepModel):
    needed: bool
    chunks: list[dict[str, int]]
    """One `{"chunk": n}` per chunk: the Partition and Assemble maps' items."""


class PlanOutput(StepModel):
    delivery_id: str
    map_concurrency: int
    plan_ref: ObjectRef
    manifest: ObjectRef
    partition: Partitioning
    assemble: bool


@step(PlanInput)
def lambda_handler(task: PlanInput, wiring: Wiring) -> PlanOutput:
    return plan_run(
        task.request,
        execution_arn=task.execution_arn,
        map_concurrency=task.map_concurrency,
        settings=wiring.settings,
        bucket=wiring.bucket,
        now=wiring.clock(),
    )


def plan_run(
    raw_request: Any,
    *,
    execution_arn: str,
    map_concurrency: int,
    settings: Settings,
    bucket: DataBucket,
    now: datetime,
) -> PlanOutput:
    """Plan one execution; the state the next steps read."""
    request = parse_request(raw_request)
    _check_request(request, bucket)
    audience = request.audience
    size, etag = _head_audience(bucket, audience.key)
    sample = _read_audience(bucket, audience.key, etag, min(size, SAMPLE_BYTES))
    layout, data_start = layout_of(audience, sample, size)
    record_store.claim(request, execution_arn, now)

    rows, chunks = _size(
        bucket,
        request,
        etag=etag,
        layout=layout,
        sample=sample,
        span=(data_start, size),
        shard_rows=settings.shard_rows,
    )
    shards = 1 if not chunks else shard_count(rows, settings.shard_rows)
    prefix = run_prefix(request.delivery_id, execution_arn)
    sizes = snapshot_sizes(request.service if request.marketing else None)
    read = choose_read(request, rows, sizes)
    consent_as_of = None
    meter = ReadMeter()
    if read is SuppressionRead.SNAPSHOT:
        consent_as_of = now
        max_age = timedelta(minutes=settings.suppression_snapshot_max_age_minutes)
        document = snapshot_store.current(request, bucket, now, max_age, meter)
        bucket.put_json(prefix + SNAPSHOT_FILE, document)
        record_store.set_consent_as_of(request.delivery_id, execution_arn, now)
    plan = RunPlan(
        request=request,
        execution_arn=execution_arn,
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
    bucket.put_json(plan.key(PLAN_FILE), plan.model_dump(mode="json", by_alias=True))
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
        map_concurrency=map_concurrency,
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


def _check_request(request: AnalysisRequest, bucket: DataBucket) -> None:
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


def _size(
    bucket: DataBucket,
    request: AnalysisRequest,
    *,
    etag: str,
    layout: Layout,
    sample: bytes,
    span: tuple[int, int],
    shard_rows: int,
) -> tuple[int, list[Chunk]]:
    """At most how many data rows the audience holds (or, when its size alone bounds it
    to one shard, an estimate), and its chunks (none for one shard).

    The rows are counted, never extrapolated: from the sample when it is the whole
    audience; else, when the bytes could hold more rows than one shard takes (rows of
    their smallest size), by reading the audience once, which also finds the chunks'
    edges. A count may be high (blank lines count), never low, so no shard grows past
    SHARD_SLACK times `shard_rows`."""
    data_start, size = span
    quote_aware = layout.format is AudienceFormat.CSV
    if len(sample) >= size:
        counted = RowCount(quote_aware)
        for _ in counted.through([sample[data_start:]]):
            pass
        if shard_count(counted.rows, shard_rows) == 1:
            return counted.rows, []
    elif most_rows(size - data_start, layout) <= shard_rows * SHARD_SLACK:
        # One shard whatever the rows; the sample's rate is enough to choose the read.
        return estimate_rows(sample, data_start, size), []
    step = (size - data_start) / EDGES
    # Offsets from the first data row, where the stream of blocks starts.
    targets = [round(step * number) for number in range(1, EDGES)]
    rows, starts = _count_in_ranges(
        bucket, request.audience.key, etag, span, targets, quote_aware=quote_aware
    )
    shards = shard_count(rows, shard_rows)
    if shards == 1:
        return rows, []
    count = min(shards, MAX_CHUNKS)
    picked = [starts[round(EDGES * number / count) - 1] for number in range(1, count)]
    edges = sorted({data_start, *(data_start + start for start in picked), size})
    return rows, [Chunk(start=start, end=end) for start, end in itertools.pairwise(edges)]


def _count_in_ranges(
    bucket: DataBucket,
    key: str,
    etag: str,
    span: tuple[int, int],
    targets: list[int],
    *,
    quote_aware: bool,
) -> tuple[int, list[int]]:
    """The audience's rows and each target's row start, its bytes read as up to
    READ_RANGES ranges at once (a single stream would take a minute for 5.5 GB);
    offsets from `span`'s start, as one read of it would find them."""
    data_start, size = span
    length = size - data_start
    ranges = max(1, min(READ_RANGES, length // MIN_RANGE_BYTES))
    cuts = [length * number // ranges for number in range(ranges + 1)]

    def scan(bounds: tuple[int, int]) -> SegmentScan:
        start, end = bounds
        return scan_segment(
            bucket.blocks(key, etag, data_start + start, data_start + end),
            start,
            [t for t in targets if start <= t - 1 < end],
            quote_aware=quote_aware,
        )

    try:
        with ThreadPoolExecutor(max_workers=ranges) as pool:
            scans = list(pool.map(scan, itertools.pairwise(cuts)))
    except ObjectGoneError:
        raise AudienceError(CHANGED) from None
    return stitch(scans, targets, length)
