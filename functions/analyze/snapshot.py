"""On a schedule (every `SuppressionSnapshotMinutes`): take every channel's suppression
snapshot from the sparse indexes and store it where Plan reads it
(consentry.analysis.snapshot_store). Plan catches each one up with what was written
since, so the schedule bounds how much that is, not what an analysis sees."""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from analyze.step import Wiring, current_wiring
from consentry.analysis import snapshot_store
from consentry.analysis.suppression import ReadMeter
from consentry.core.observability import logger, metrics, tracer
from consentry.core.types import Channel


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    _event: dict[str, Any], _context: LambdaContext, wiring: Wiring | None = None
) -> dict[str, Any]:
    return take_snapshots(wiring or current_wiring())


def take_snapshots(wiring: Wiring) -> dict[str, Any]:
    """Every channel's snapshot, taken now and written; what was written, per channel."""
    started = time.monotonic()
    meter = ReadMeter()
    at = wiring.clock()
    snapshots = snapshot_store.take(list(Channel), at, meter)
    for snapshot in snapshots:
        snapshot_store.write(wiring.bucket, snapshot)
    seconds = time.monotonic() - started
    summary = {
        "asOf": at.isoformat(),
        "seconds": round(seconds, 3),
        "readUnits": meter.read_units,
        "channels": {
            s.channel.value: {
                "optedOut": len(s.opted_out),
                "denylisted": len(s.denylisted),
                "quarantined": len(s.quarantined),
            }
            for s in snapshots
        },
    }
    metrics.add_metric(name="SuppressionSnapshotSeconds", unit=MetricUnit.Seconds, value=seconds)
    metrics.add_metric(
        name="SuppressionSnapshotReadUnits", unit=MetricUnit.Count, value=meter.read_units
    )
    logger.info("suppression snapshots written", extra=summary)
    return summary


cold_start.loaded()
