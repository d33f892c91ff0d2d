"""Publishes what the consent-events and address-events streams carry onto the event bus,
and adds what it published to the daily counts.

The stream records come through Powertools' DynamoDB stream data class; the answer is
Lambda's partial batch response (ReportBatchItemFailures): the first record not
published, from which Lambda resumes the shard. After the event source's retries the
batch goes to the on-failure destination (the publisher's dead-letter queue).

Each record is read once (consentry.events.records): publishing and counting both take
its plain values. A record that cannot be read stops the shard there, as one that
cannot be published does.

The records published are then counted (consentry.reporting), each exactly once. When
the counts cannot be written the whole batch is retried: its events go out again with
the same ids, and what was counted already is not counted again.
"""

from __future__ import annotations

from consentry.core import cold_start  # first: the collector waits while this loads

# isort: split

from itertools import takewhile
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from consentry.core import clients
from consentry.core.clock import utc_now
from consentry.core.errors import StoreUnavailableError
from consentry.core.observability import logger, metrics, tracer
from consentry.core.persistence import bind_tables
from consentry.core.settings import Settings, get_settings
from consentry.core.types import Address, Channel
from consentry.events import latency
from consentry.events.changes import AddressFingerprint
from consentry.events.latency import Latency
from consentry.events.publisher import EventBus, Sent, StreamPublisher
from consentry.events.records import StreamRecord, read_batch
from consentry.reporting import counting

_bound: Settings | None = None


def _fingerprints(settings: Settings) -> AddressFingerprint:
    def address_key(channel: Channel, address: Address) -> str:
        # Loaded here: only a batch with an address change needs the fingerprints (with
        # their store and the keys' parameters); consent changes publish without them.
        from consentry.privacy.fingerprints import fingerprint, load_keyring  # noqa: PLC0415

        keyring = load_keyring(
            settings.erasure_keys_secret, max_age_s=settings.signing_keys_max_age_s
        )
        return fingerprint(keyring, keyring.active, channel, address)

    return address_key


def _histograms(published: list[Sent]) -> None:
    """Add the batch to the hourly histograms `GET /v1/metrics/honour` reads. The events
    are out already: a failure here is logged and counted, never retried (a retry would
    publish them again)."""
    try:
        latency.record(
            sample
            for sent in published
            for sample in (
                (Latency.HONOUR, sent.published_at, sent.change.honour_ms),
                (Latency.PUBLISH, sent.published_at, sent.lag_ms),
            )
        )
    except StoreUnavailableError as error:
        logger.warning("latency histograms not written", extra={"detail": error.detail})
        metrics.add_metric("LatencyHistogramsLost", MetricUnit.Count, 1)


def _position(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _counted(records: list[StreamRecord], retry_from: str | None) -> bool:
    """Add the records published (those before `retry_from`) to the daily counts; False
    when the counts could not be written, and the batch must come again."""
    published = list(takewhile(lambda record: record.position != retry_from, records))
    try:
        counted = counting.count_records(published, utc_now())
    except StoreUnavailableError as error:
        logger.warning(
            "daily counts not written; the batch comes again", extra={"detail": error.detail}
        )
        metrics.add_metric("DailyCountsDeferred", MetricUnit.Count, 1)
        return False
    metrics.add_metric("ChangesCounted", MetricUnit.Count, counted.counted)
    if counted.unreadable:
        logger.warning(
            "records the daily counts cannot read", extra={"skipped": counted.unreadable}
        )
        metrics.add_metric("CountRecordsUnreadable", MetricUnit.Count, counted.unreadable)
    return True


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(
    event: dict[str, Any], _context: LambdaContext, bus: EventBus | None = None
) -> dict[str, Any]:
    """`bus` replaces the EventBridge client (tests pass one that fails)."""
    global _bound  # noqa: PLW0603 (tables bound once per execution environment)
    settings = get_settings()
    if _bound is not settings:
        bind_tables(settings)
        _bound = settings
    if settings.event_bus_name is None:
        raise RuntimeError("EVENT_BUS_NAME is not set")
    publisher = StreamPublisher(
        bus=bus or clients.client("events", settings.aws_region),
        bus_name=settings.event_bus_name,
        fingerprint=_fingerprints(settings),
        clock=utc_now,
    )
    records: list[dict[str, Any]] = event["Records"]
    batch = read_batch(records)
    result = publisher.publish(batch.records)
    for sent in result.published:
        metrics.add_metric("HonourLatency", MetricUnit.Milliseconds, sent.change.honour_ms)
        metrics.add_metric("PublishLag", MetricUnit.Milliseconds, sent.lag_ms)
    metrics.add_metric("EventsPublished", MetricUnit.Count, len(result.published))
    _histograms(result.published)
    retry_from = result.retry_from or batch.unreadable_at
    if not _counted(batch.records, retry_from):
        return {"batchItemFailures": [{"itemIdentifier": _position(records[0])}]}
    if retry_from is None:
        return {"batchItemFailures": []}
    logger.warning("publishing stopped; the shard resumes here", extra={"at": retry_from})
    return {"batchItemFailures": [{"itemIdentifier": retry_from}]}


cold_start.loaded()
