"""Plan: validate the request, claim the delivery, size the work, read the suppression data.

Everything that can be refused is checked before any consent data is read: the
request, the service, the audience's header. The record is claimed only then, so a
bad request never replaces an earlier result. The audience is split into shards of
about `shard_rows` rows; above one shard, Partition splits it in chunks of whole rows
that Plan finds by reading the audience once (in CSV a newline inside a quoted field
does not end a row, so chunk edges cannot be guessed from byte offsets).
"""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from analyze.suppression import choose_read, read_snapshot
from consentry.analysis import files, record_store, suppression_store
from consentry.analysis.audience import SAMPLE_BYTES, Layout, layout_of, row_starts
from consentry.analysis.contract import AnalysisRequest, AudienceFormat
from consentry.analysis.run import (
    MANIFEST_FILE,
    PLAN_FILE,
    SNAPSHOT_FILE,
    Chunk,
    RunPlan,
    SuppressionRead,
    run_prefix,
)
from consentry.analysis.suppression_store import ReadMeter
from consentry.consent import service_store
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.observability import logger
from consentry.core.settings import Settings

MAX_CHUNKS = 1000
"""Partition is an inline map: its items travel in the execution's state."""
MAX_SHARDS = 10000
SHARD_SLACK = 1.1
"""A shard may hold 10 % more rows than `shard_rows`: the row count is an estimate (from
the first megabyte), and an audience of about one shard should not become two."""


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


def plan_run(
    raw_request: Any,
    *,
    execution_arn: str,
    map_concurrency: int,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Plan one execution; the state the next steps read."""
    request = parse_request(raw_request)
    _check_request(request, settings)
    audience = request.audience
    size, etag = files.head_audience(audience.bucket, audience.key)
    sample = files.read_audience(audience.bucket, audience.key, etag, 0, min(size, SAMPLE_BYTES))
    layout, data_start = layout_of(audience, sample, size)
    rows = estimate_rows(sample, data_start, size)
    record_store.claim(request, execution_arn, now)

    shards = max(1, min(MAX_SHARDS, math.ceil(rows / (settings.shard_rows * SHARD_SLACK))))
    chunks = (
        _chunks(request, etag, layout, (data_start, size), min(shards, MAX_CHUNKS))
        if shards > 1
        else []
    )
    prefix = run_prefix(request.delivery_id, execution_arn)
    bucket = settings.data_bucket
    sizes = suppression_store.snapshot_sizes(request.service if request.marketing else None)
    read = choose_read(request, rows, sizes)
    consent_as_of = None
    meter = ReadMeter()
    if read is SuppressionRead.SNAPSHOT:
        consent_as_of = now
        files.put_json(bucket, prefix + SNAPSHOT_FILE, read_snapshot(request, now, meter))
        record_store.set_consent_as_of(request.delivery_id, execution_arn, now)
    plan = RunPlan(
        request=request,
        execution_arn=execution_arn,
        bucket=bucket,
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
    )
    files.put_json(bucket, plan.key(PLAN_FILE), plan.model_dump(mode="json", by_alias=True))
    manifest = plan.key(MANIFEST_FILE)
    files.put_json(bucket, manifest, [{"shard": s} for s in range(shards)])
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
    return {
        "deliveryId": request.delivery_id,
        "mapConcurrency": map_concurrency,
        "planRef": plan.ref(),
        "manifest": {"bucket": bucket, "key": manifest},
        "partition": {
            "needed": plan.partitioned,
            "chunks": [{"chunk": number} for number in range(len(chunks))],
        },
        "assemble": plan.partitioned and not request.dry_run,
    }


def _check_request(request: AnalysisRequest, settings: Settings) -> None:
    if request.audience.bucket != settings.data_bucket:
        raise InvalidInputError(
            "audience.uri",
            f"audiences are read from the deployment's data bucket, {settings.data_bucket}",
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
    """The audience's data rows: counted when the sample is all of it, else extrapolated."""
    body = sample[data_start:]
    lines = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
    if len(sample) >= size or not body:
        return lines
    return math.ceil((size - data_start) * lines / len(body))


def _chunks(
    request: AnalysisRequest, etag: str, layout: Layout, span: tuple[int, int], count: int
) -> list[Chunk]:
    """About `count` chunks of whole rows covering the audience's data rows, `span`."""
    data_start, size = span
    audience = request.audience
    step = (size - data_start) / count
    # Offsets from the first data row, where the stream of blocks starts.
    targets = [round(step * number) for number in range(1, count)]
    starts = row_starts(
        files.blocks(audience.bucket, audience.key, etag, data_start, size),
        targets,
        quote_aware=layout.format is AudienceFormat.CSV,
    )
    edges = sorted({data_start, *(data_start + start for start in starts), size})
    return [Chunk(start=start, end=end) for start, end in itertools.pairwise(edges)]
