"""/v1/metrics/honour: how fast changes were honoured and published, last 24 hours."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from consent.api import answers, dependencies
from consent.schemas.metrics import HonourOut, LatencyOut
from consentry.events import latency
from consentry.events.latency import Latency

router = APIGatewayRouter()


@router.get(
    "/v1/metrics/honour",
    summary="HonourLatency and PublishLag, p50 and p99 over the last 24 hours",
    tags=["metrics"],
    responses=answers(HonourOut),
)
def get_honour() -> HonourOut:
    now = dependencies(router).clock()
    counts = latency.last_day(now)
    return HonourOut(
        as_of=now,
        window_hours=latency.WINDOW_HOURS,
        honour_latency_ms=_summary(counts[Latency.HONOUR]),
        publish_lag_ms=_summary(counts[Latency.PUBLISH]),
    )


def _summary(counts: list[int]) -> LatencyOut:
    return LatencyOut(
        count=sum(counts),
        p50=_bound(latency.percentile(counts, 0.50)),
        p99=_bound(latency.percentile(counts, 0.99)),
    )


def _bound(value: float | None) -> int | None:
    """A bucket's upper bound; the open last bucket is answered as its lower bound."""
    if value is None:
        return None
    return int(value) if value != float("inf") else int(latency.BOUNDS_MS[-2])
