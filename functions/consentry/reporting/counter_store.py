"""Adding tallies to the daily counts exactly once, however often a record is delivered.

Stream records arrive at least once. Each tally is written in a TransactWriteItems with
its marker: a put conditioned on the marker not existing, and an ADD to each of its
cells. A transaction holds the tallies of many records at once (up to DynamoDB's 100
items, cells of the same day added up), so a batch of a hundred records costs a few
transactions, not a hundred. When a marker exists already (a redelivered record)
DynamoDB cancels the whole transaction and names the item: those tallies are dropped
and the rest written again. A transaction that collides with a concurrent one on a
counter is tried again after a pause.

Markers expire after MARKER_KEPT (a stream keeps a record for 24 hours, so no
redelivery comes later); counts after COUNT_KEPT.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as day_start

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from consentry.core.errors import StoreUnavailableError
from consentry.core.observability import logger, metrics
from consentry.core.persistence import BACKOFF_MAX_S, BACKOFF_S, MAX_ATTEMPTS, transactions
from consentry.reporting.cells import Cell, Tally
from consentry.reporting.tables import DailyCountModel

TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""
MARKER_KEPT = timedelta(days=2)
COUNT_KEPT = timedelta(days=400)
MARKER_SERIES = "counted#"
MARKER_CELL = "-"
_REPEATED = "ConditionalCheckFailed"
"""A marker's condition failed: its change was counted before."""
_CONFLICT = "TransactionConflict"


@dataclass(frozen=True)
class Counted:
    counted: int
    """Tallies added now."""
    repeated: int
    """Tallies whose marker existed: counted by an earlier delivery."""


def add_or_log(tallies: Iterable[Tally], now: datetime, what: str) -> None:
    """Add tallies whose loss must not fail what they count (an analysis that is done):
    a failure is logged and counted in `DailyCountsLost`, never raised."""
    try:
        add(tallies, now)
    except StoreUnavailableError as error:
        logger.warning("daily counts not written", extra={"what": what, "detail": error.detail})
        metrics.add_metric(name="DailyCountsLost", unit=MetricUnit.Count, value=1)


def add(tallies: Iterable[Tally], now: datetime) -> Counted:
    """Add each tally once; StoreUnavailableError when the table cannot be written
    (what was added before stays added, and its markers make a retry skip it)."""
    unique = list({tally.marker: tally for tally in tallies}.values())
    counted = repeated = 0
    for chunk in _chunks(unique):
        written, skipped = _write(chunk, now)
        counted += written
        repeated += skipped
    return Counted(counted, repeated)


def _chunks(tallies: list[Tally]) -> Iterator[list[Tally]]:
    """Tallies in groups whose markers and distinct cells fit in one transaction."""
    chunk: list[Tally] = []
    cells: set[tuple[str, str]] = set()
    for tally in tallies:
        more = {(cell.series.value, cell.key) for cell in tally.cells} - cells
        if chunk and len(chunk) + 1 + len(cells) + len(more) > TRANSACTION_ITEMS:
            yield chunk
            chunk, cells = [], set()
            more = {(cell.series.value, cell.key) for cell in tally.cells}
        chunk.append(tally)
        cells |= more
    if chunk:
        yield chunk


def _write(chunk: list[Tally], now: datetime) -> tuple[int, int]:
    """Write `chunk`'s tallies whose markers are new: (written, already counted)."""
    pending = list(chunk)
    attempt = 0
    while pending:
        try:
            _transaction(pending, now)
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            repeated = {
                number
                for number, reason in enumerate(reasons[: len(pending)])
                if reason is not None and reason.code == _REPEATED
            }
            if repeated:
                pending = [tally for n, tally in enumerate(pending) if n not in repeated]
                continue
            if any(reason is not None and reason.code == _CONFLICT for reason in reasons):
                attempt += 1
                if attempt < MAX_ATTEMPTS:
                    pause = min(BACKOFF_MAX_S, BACKOFF_S * 2**attempt)
                    time.sleep(random.uniform(0, pause))  # noqa: S311 (jitter, not a secret)
                    continue
            raise StoreUnavailableError(f"daily counts not written: {error}") from error
        except PynamoDBException as error:
            raise StoreUnavailableError(f"daily counts not written: {error}") from error
        return len(pending), len(chunk) - len(pending)
    return 0, len(chunk)


def _transaction(tallies: list[Tally], now: datetime) -> None:
    """One TransactWriteItems: the markers first (a cancellation names them by position),
    then one ADD per distinct cell."""
    sums: dict[Cell, int] = {}
    for tally in tallies:
        for cell in tally.cells:
            sums[cell] = sums.get(cell, 0) + 1
    with TransactWrite(connection=transactions()) as tx:
        for tally in tallies:
            tx.save(
                DailyCountModel(
                    MARKER_SERIES + tally.marker, MARKER_CELL, expires_at=now + MARKER_KEPT
                ),
                condition=DailyCountModel.series.does_not_exist(),
            )
        for cell, count in sums.items():
            kept_until = datetime.combine(cell.day, day_start(), UTC) + COUNT_KEPT
            tx.update(
                DailyCountModel(cell.series.value, cell.key),
                actions=[
                    DailyCountModel.total.add(count),
                    DailyCountModel.expires_at.set(kept_until),
                ],
            )
