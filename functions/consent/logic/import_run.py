"""The run of the import function: apply one bulk import that `POST /v1/imports` queued.

The run reads the file twice, streaming: once to check it (encoding, CSV syntax,
header) and count its rows, so that a malformed file fails before any row is applied;
then to apply each row, writing `row,outcome,reason` to the report. Applying is
idempotent (a consent change or address status that is already in place writes
nothing), so a retried or repeated run applies nothing twice.

Apart from the operations behind /v1/imports (consent.logic.imports), which validate
callers' bodies with pydantic: the import function loads none of that.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import timedelta

from consentry.addresses import decisions
from consentry.addresses.status import IMPORT_ORIGIN
from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.bucket import DataBucket, ObjectGoneError, TextSpool
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConflictError
from consentry.core.observability import logger
from consentry.core.types import Action, Source
from consentry.imports import import_store
from consentry.imports.rules import (
    AddressRow,
    ImportCounts,
    ImportFileError,
    ImportKind,
    ImportRecord,
    ImportStatus,
    ProfileRow,
    RejectedRow,
    RowOutcome,
    actor_of,
    read_address_row,
    read_header,
    read_profile_row,
    row_values,
)

TimeLeft = Callable[[], timedelta]
"""How long the run may still take (the Lambda context's remaining time)."""

FINISHING_TIME = timedelta(seconds=20)
"""What a run keeps back to write its report and record before its time is up."""
PROGRESS_EVERY = 500
"""Rows between two progress updates of the import record."""


@dataclass(frozen=True)
class ImportRun:
    """What one run of the import function works with."""

    bucket: DataBucket
    default_region: str
    smtputf8: bool = False
    """`Settings.sender_smtputf8`."""
    time_left: TimeLeft = lambda: timedelta.max
    clock: Clock = utc_now


def run(import_id: str, job: ImportRun) -> ImportRecord:
    """Apply a queued import and record how it went; the record as it stands after.

    An import that is done, or that another run holds, is left alone. A file that
    cannot be imported, or a run that runs out of time, fails the import with the
    reason. Any other error (the store or S3 unavailable) fails it too, releases it,
    and is raised so that Lambda retries the run, which starts over: rows applied
    before are then `unchanged`.
    """
    clock = job.clock
    now = clock()
    until = now + min(job.time_left(), timedelta(days=1))
    record = import_store.claim(import_id, now=now, until=until)
    if record is None:
        return import_store.get(import_id)
    logger.info("import started", extra={"import_id": import_id, "kind": record.kind.value})
    try:
        return _run(record, job)
    except Exception as error:
        _finish(record, ImportStatus.FAILED, error=f"{error}; Lambda retries the run", clock=clock)
        raise


def _run(record: ImportRecord, job: ImportRun) -> ImportRecord:
    clock = job.clock
    try:
        columns, rows = _check(record, job.bucket)
    except ImportFileError as error:
        return _finish(
            record, ImportStatus.FAILED, counts=ImportCounts(), error=str(error), clock=clock
        )
    counts = ImportCounts(rows=rows)
    import_store.save_counts(record.import_id, counts, now=clock())
    status, error_text = ImportStatus.DONE, None
    with _Report() as report:
        try:
            counts = _apply_rows(record, columns, counts=counts, report=report, job=job)
        except ImportFileError as error:
            status, error_text = ImportStatus.FAILED, str(error)
        except _OutOfTime as error:
            status, error_text, counts = ImportStatus.FAILED, str(error), error.counts
        report_uri = report.upload(job.bucket, f"imports/{record.import_id}/report.csv")
    return _finish(
        record, status, counts=counts, report_uri=report_uri, error=error_text, clock=clock
    )


# ---------------------------------------------------------------- the file


def _check(record: ImportRecord, bucket: DataBucket) -> tuple[tuple[str, ...], int]:
    """The file's columns and its number of data rows; ImportFileError when unreadable."""
    with closing(_records(record, bucket)) as records:
        columns = _header(record, records)
        return columns, sum(1 for _, fields in records if fields)


def _apply_rows(
    record: ImportRecord,
    columns: tuple[str, ...],
    *,
    counts: ImportCounts,
    report: _Report,
    job: ImportRun,
) -> ImportCounts:
    with closing(_records(record, job.bucket)) as records:
        _header(record, records)
        for number, fields in records:
            if not fields:
                continue
            if job.time_left() < FINISHING_TIME:
                raise _OutOfTime(number, counts)
            outcome, reason = _apply(record, columns, fields, job)
            report.write(number, outcome, reason)
            counts = counts.add(outcome)
            if (counts.applied + counts.rejected + counts.unchanged) % PROGRESS_EVERY == 0:
                import_store.save_counts(record.import_id, counts, now=job.clock())
    return counts


def _header(record: ImportRecord, records: Iterator[tuple[int, list[str]]]) -> tuple[str, ...]:
    _, header = next(records, (1, []))
    if not header:
        raise ImportFileError("the file has no header: its first line must name the columns")
    return read_header(record.kind, header)


def _records(record: ImportRecord, bucket: DataBucket) -> Generator[tuple[int, list[str]]]:
    """The file's records as (row number, fields), streamed; the header is row 1."""
    number = 0
    try:
        with bucket.open_text(record.key, record.etag) as text:
            for number, fields in enumerate(csv.reader(text, strict=True), start=1):
                yield number, fields
    except ObjectGoneError:
        raise ImportFileError(
            "the file was changed or deleted after the import was requested; import it again"
        ) from None
    except UnicodeDecodeError:
        raise ImportFileError(f"the file is not UTF-8 text (after row {number})") from None
    except csv.Error as error:
        raise ImportFileError(f"row {number + 1} is not valid CSV: {error}") from None


# ---------------------------------------------------------------- the rows


def _apply(
    record: ImportRecord, columns: tuple[str, ...], fields: list[str], job: ImportRun
) -> tuple[RowOutcome, str]:
    region, smtputf8 = job.default_region, job.smtputf8
    actor = actor_of(record.import_id)
    try:
        values = row_values(columns, fields)
        if record.kind is ImportKind.PROFILES:
            row = read_profile_row(values, region, smtputf8=smtputf8)
            changed = _apply_profile(row, actor, record)
        else:
            entry = read_address_row(values, region, smtputf8=smtputf8)
            changed = _apply_address(entry, actor, job.clock)
    except (RejectedRow, ConflictError) as error:
        return RowOutcome.REJECTED, str(error)
    return (RowOutcome.APPLIED if changed else RowOutcome.UNCHANGED), ""


def _apply_profile(row: ProfileRow, actor: str, record: ImportRecord) -> bool:
    changed = False
    if row.addresses or row.locale:
        changed = profile_store.merge_profile_details(row.profile_id, row.addresses, row.locale)
    flags = [(Scope.all(), row.opt_out_all)] + [
        (Scope.channel(channel), opted_out) for channel, opted_out in row.opt_out.items()
    ]
    changes = [
        ConsentChange(
            scope=scope,
            action=Action.OPT_OUT if opted_out else Action.OPT_IN,
            source=Source.IMPORT,
            actor=actor,
            reason=f"import {record.import_id}",
            requested_at=record.created_at,
        )
        for scope, opted_out in flags
        if opted_out is not None
    ]
    if changes:
        changed = bool(profile_store.record_changes(row.profile_id, changes).events) or changed
    return changed


def _apply_address(row: AddressRow, actor: str, clock: Clock) -> bool:
    updated = decisions.put_status(
        row.channel,
        row.address,
        row.status,
        row.reason,
        actor=actor,
        origin=IMPORT_ORIGIN,
        clock=clock,
    )
    return updated is not None


# ---------------------------------------------------------------- the outcome


class _OutOfTime(Exception):
    def __init__(self, row: int, counts: ImportCounts) -> None:
        super().__init__(
            f"stopped before row {row}: the run's time was up "
            f"({counts.applied + counts.rejected + counts.unchanged} of {counts.rows} rows "
            "done, see the report); split the rest of the file into smaller files and "
            "import them"
        )
        self.counts = counts


class _Report:
    """`row,outcome,reason` for every row, kept in memory or /tmp until it is uploaded."""

    def __init__(self) -> None:
        self._spool = TextSpool()
        self._csv = csv.writer(self._spool.text, lineterminator="\n")
        self._csv.writerow(("row", "outcome", "reason"))

    def __enter__(self) -> _Report:
        return self

    def __exit__(self, *_: object) -> None:
        self._spool.close()

    def write(self, row: int, outcome: RowOutcome, reason: str) -> None:
        self._csv.writerow((row, outcome.value, reason))

    def upload(self, bucket: DataBucket, key: str) -> str:
        self._spool.upload(bucket, key, "text/csv")
        return bucket.uri(key)


def _finish(
    record: ImportRecord,
    status: ImportStatus,
    *,
    counts: ImportCounts | None = None,
    report_uri: str | None = None,
    error: str | None = None,
    clock: Clock,
) -> ImportRecord:
    """Record how a run ended; `counts` None keeps the last progress saved."""
    finished = import_store.finish(
        record.import_id,
        status=status,
        counts=counts,
        report_uri=report_uri,
        error=error,
        now=clock(),
    )
    logger.info(
        "import ended",
        extra={
            "import_id": record.import_id,
            "status": status.value,
            **asdict(finished.counts),
        },
    )
    return finished
