"""Bulk imports: the operations behind /v1/imports, and the run of the import function.

`POST /v1/imports` names a CSV in the data bucket; the import's id is derived from the
object's bucket, key and ETag and the kind, so the same file is one import. The run
reads the file twice, streaming: once to check it (encoding, CSV syntax, header) and
count its rows, so that a malformed file fails before any row is applied; then to
apply each row, writing `row,outcome,reason` to the report. Applying is idempotent
(a consent change or address status that is already in place writes nothing), so a
retried or repeated run applies nothing twice.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from datetime import timedelta
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from consent.schemas import ImportIn, ImportOut
from consentry.addresses import decisions
from consentry.addresses.status import IMPORT_ORIGIN
from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConflictError, InvalidInputError, StoreUnavailableError
from consentry.core.observability import logger
from consentry.core.settings import get_settings
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
    import_id_of,
    parse_s3_uri,
    read_address_row,
    read_header,
    read_profile_row,
    row_values,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client

TimeLeft = Callable[[], timedelta]
"""How long the run may still take (the Lambda context's remaining time)."""

FINISHING_TIME = timedelta(seconds=20)
"""What a run keeps back to write its report and record before its time is up."""
PROGRESS_EVERY = 500
"""Rows between two progress updates of the import record."""
REPORT_SPILL_BYTES = 8 * 1024 * 1024
"""A report up to this size stays in memory; a larger one spills to /tmp."""
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def start(body: ImportIn) -> dict[str, Any]:
    """Queue the import of the file `body` names (202), or answer the existing one (200)."""
    settings = get_settings()
    bucket, key = parse_s3_uri(body.uri)
    if bucket != settings.data_bucket:
        raise InvalidInputError(
            "uri", f"imports are read from the deployment's data bucket, {settings.data_bucket}"
        )
    etag = _etag_of(bucket, key)
    now = utc_now()
    record = ImportRecord(
        import_id=import_id_of(body.kind, bucket, key, etag),
        kind=body.kind,
        bucket=bucket,
        key=key,
        etag=etag,
        status=ImportStatus.QUEUED,
        created_at=now,
        updated_at=now,
    )
    created = import_store.create(record)
    if not created:
        record = import_store.get(record.import_id)
    if record.status is ImportStatus.QUEUED:
        # Also for a repeat: the first request may have stored the import and failed
        # to start it. A second start of a started import finds it claimed and stops.
        start_job(record.import_id)
    return {"status": 202 if created else 200, "body": _json(record)}


def get(import_id: str) -> ImportOut:
    return ImportOut.of(import_store.get(import_id))


def start_job(import_id: str) -> None:
    """Hand the import to the import function, asynchronously."""
    function_name = get_settings().import_function_name
    if function_name is None:
        raise RuntimeError("IMPORT_FUNCTION_NAME is not set: this function cannot start imports")
    try:
        _lambda().invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps({"importId": import_id}).encode(),
        )
    except (ClientError, BotoCoreError) as error:
        raise StoreUnavailableError(f"the import could not be started: {error}") from error


def run(
    import_id: str, *, time_left: TimeLeft = lambda: timedelta.max, clock: Clock = utc_now
) -> ImportRecord:
    """Apply a queued import and record how it went; the record as it stands after.

    An import that is done, or that another run holds, is left alone. A file that
    cannot be imported, or a run that runs out of time, fails the import with the
    reason. Any other error (the store or S3 unavailable) fails it too, releases it,
    and is raised so that Lambda retries the run, which starts over: rows applied
    before are then `unchanged`.
    """
    now = clock()
    record = import_store.claim(import_id, now=now, until=now + min(time_left(), timedelta(days=1)))
    if record is None:
        return import_store.get(import_id)
    logger.info("import started", extra={"import_id": import_id, "kind": record.kind.value})
    try:
        return _run(record, time_left=time_left, clock=clock)
    except Exception as error:
        _finish(record, ImportStatus.FAILED, error=f"{error}; Lambda retries the run", clock=clock)
        raise


def _run(record: ImportRecord, *, time_left: TimeLeft, clock: Clock) -> ImportRecord:
    try:
        columns, rows = _check(record)
    except ImportFileError as error:
        return _finish(
            record, ImportStatus.FAILED, counts=ImportCounts(), error=str(error), clock=clock
        )
    counts = ImportCounts(rows=rows)
    import_store.save_counts(record.import_id, counts, now=clock())
    status, error_text = ImportStatus.DONE, None
    with _Report() as report:
        try:
            counts = _apply_rows(
                record, columns, counts=counts, report=report, time_left=time_left, clock=clock
            )
        except ImportFileError as error:
            status, error_text = ImportStatus.FAILED, str(error)
        except _OutOfTime as error:
            status, error_text, counts = ImportStatus.FAILED, str(error), error.counts
        report_uri = report.upload(record.bucket, f"imports/{record.import_id}/report.csv")
    return _finish(
        record, status, counts=counts, report_uri=report_uri, error=error_text, clock=clock
    )


# ---------------------------------------------------------------- the file


def _check(record: ImportRecord) -> tuple[tuple[str, ...], int]:
    """The file's columns and its number of data rows; ImportFileError when unreadable."""
    with closing(_records(record)) as records:
        columns = _header(record, records)
        return columns, sum(1 for _, fields in records if fields)


def _apply_rows(
    record: ImportRecord,
    columns: tuple[str, ...],
    *,
    counts: ImportCounts,
    report: _Report,
    time_left: TimeLeft,
    clock: Clock,
) -> ImportCounts:
    region = get_settings().default_phone_region
    with closing(_records(record)) as records:
        _header(record, records)
        for number, fields in records:
            if not fields:
                continue
            if time_left() < FINISHING_TIME:
                raise _OutOfTime(number, counts)
            outcome, reason = _apply(record, columns, fields, region)
            report.write(number, outcome, reason)
            counts = counts.add(outcome)
            if (counts.applied + counts.rejected + counts.unchanged) % PROGRESS_EVERY == 0:
                import_store.save_counts(record.import_id, counts, now=clock())
    return counts


def _header(record: ImportRecord, records: Iterator[tuple[int, list[str]]]) -> tuple[str, ...]:
    _, header = next(records, (1, []))
    if not header:
        raise ImportFileError("the file has no header: its first line must name the columns")
    return read_header(record.kind, header)


def _records(record: ImportRecord) -> Generator[tuple[int, list[str]]]:
    """The file's records as (row number, fields), streamed; the header is row 1."""
    try:
        body = _s3().get_object(Bucket=record.bucket, Key=record.key, IfMatch=record.etag)["Body"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "PreconditionFailed" or code in _MISSING:
            raise ImportFileError(
                "the file was changed or deleted after the import was requested; import it again"
            ) from error
        raise
    number = 0
    # StreamingBody is a readable binary stream, which is all TextIOWrapper reads.
    with io.TextIOWrapper(cast(IO[bytes], body), encoding="utf-8-sig", newline="") as text:
        try:
            for number, fields in enumerate(csv.reader(text, strict=True), start=1):
                yield number, fields
        except UnicodeDecodeError:
            raise ImportFileError(f"the file is not UTF-8 text (after row {number})") from None
        except csv.Error as error:
            raise ImportFileError(f"row {number + 1} is not valid CSV: {error}") from None


def _etag_of(bucket: str, key: str) -> str:
    try:
        return _s3().head_object(Bucket=bucket, Key=key)["ETag"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING:
            raise InvalidInputError("uri", f"no object {key!r} in {bucket}") from error
        raise StoreUnavailableError(f"the file could not be read: {error}") from error


# ---------------------------------------------------------------- the rows


def _apply(
    record: ImportRecord, columns: tuple[str, ...], fields: list[str], region: str
) -> tuple[RowOutcome, str]:
    actor = actor_of(record.import_id)
    try:
        values = row_values(columns, fields)
        if record.kind is ImportKind.PROFILES:
            changed = _apply_profile(read_profile_row(values, region), actor, record.import_id)
        else:
            changed = _apply_address(read_address_row(values, region), actor)
    except (RejectedRow, ConflictError) as error:
        return RowOutcome.REJECTED, str(error)
    return (RowOutcome.APPLIED if changed else RowOutcome.UNCHANGED), ""


def _apply_profile(row: ProfileRow, actor: str, import_id: str) -> bool:
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
            reason=f"import {import_id}",
        )
        for scope, opted_out in flags
        if opted_out is not None
    ]
    if changes:
        changed = bool(profile_store.record_changes(row.profile_id, changes).events) or changed
    return changed


def _apply_address(row: AddressRow, actor: str) -> bool:
    updated = decisions.put_status(
        row.channel, row.address, row.status, row.reason, actor=actor, origin=IMPORT_ORIGIN
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
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=REPORT_SPILL_BYTES)  # noqa: SIM115 (closed by __exit__)
        self._text = io.TextIOWrapper(self._file, encoding="utf-8", newline="", write_through=True)
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(("row", "outcome", "reason"))

    def __enter__(self) -> _Report:
        return self

    def __exit__(self, *_: object) -> None:
        self._text.close()

    def write(self, row: int, outcome: RowOutcome, reason: str) -> None:
        self._csv.writerow((row, outcome.value, reason))

    def upload(self, bucket: str, key: str) -> str:
        self._text.flush()
        self._file.seek(0)
        _s3().upload_fileobj(self._file, bucket, key, ExtraArgs={"ContentType": "text/csv"})
        return f"s3://{bucket}/{key}"


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
            **finished.counts.model_dump(),
        },
    )
    return finished


def _json(record: ImportRecord) -> dict[str, Any]:
    return ImportOut.of(record).model_dump(mode="json", by_alias=True)


@lru_cache(maxsize=1)
def _s3() -> S3Client:
    return boto3.client("s3", region_name=get_settings().aws_region)


@lru_cache(maxsize=1)
def _lambda() -> LambdaClient:
    return boto3.client("lambda", region_name=get_settings().aws_region)
