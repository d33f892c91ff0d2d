"""Bulk imports: the operations behind /v1/imports.

`POST /v1/imports` names a CSV in the data bucket; the import's id is derived from the
object's bucket, key and ETag and the kind, so the same file is one import. The import
function runs it (consent.logic.import_run).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from consent.commands import Command, idempotent
from consent.schemas.imports import ImportIn, ImportOut
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.clock import Clock
from consentry.core.errors import InvalidInputError, WorkflowUnavailableError
from consentry.imports import import_store
from consentry.imports.rules import (
    ImportRecord,
    ImportStatus,
    import_id_of,
    parse_s3_uri,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


class ImportJobs(Protocol):
    """What starts an import's run: the import function, invoked asynchronously."""

    def start(self, import_id: str) -> None: ...


@dataclass(frozen=True)
class LambdaImportJobs:
    functions: LambdaClient
    function_name: str

    def start(self, import_id: str) -> None:
        try:
            self.functions.invoke(
                FunctionName=self.function_name,
                InvocationType="Event",
                Payload=json.dumps({"importId": import_id}).encode(),
            )
        except (ClientError, BotoCoreError) as error:
            raise WorkflowUnavailableError(f"the import could not be started: {error}") from error


class StartImport(Command):
    body: ImportIn


class StartedImport(ImportOut):
    """The import a request started (`created`) or found: the same file is one import."""

    created: bool


@idempotent
def start(
    *, command: StartImport, bucket: DataBucket, jobs: ImportJobs, clock: Clock
) -> StartedImport:
    """Queue the import of the file the command names, or answer the existing one."""
    body = command.body
    source_bucket, key = parse_s3_uri(body.uri)
    if source_bucket != bucket.name:
        raise InvalidInputError("uri", "imports are read from the deployment's data bucket")
    try:
        _, etag = bucket.head(key)
    except ObjectGoneError:
        raise InvalidInputError("uri", "no such object in the data bucket") from None
    now = clock()
    record = ImportRecord(
        import_id=import_id_of(body.kind, source_bucket, key, etag),
        kind=body.kind,
        bucket=source_bucket,
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
        jobs.start(record.import_id)
    return StartedImport(**ImportOut.of(record).model_dump(), created=created)


def get(import_id: str) -> ImportOut:
    return ImportOut.of(import_store.get(import_id))


def latest(limit: int) -> list[ImportOut]:
    """The newest imports, newest first."""
    return [ImportOut.of(record) for record in import_store.latest(limit)]


@dataclass(frozen=True)
class ReportHead:
    """The first rows of an import's report: `row,outcome,reason` each."""

    rows: tuple[tuple[str, str, str], ...]
    complete: bool
    """False when the report goes on past what was read."""


def report_head(found: ImportOut, bucket: DataBucket, max_bytes: int) -> ReportHead | None:
    """The rows in the first `max_bytes` of the import's report (a ranged read, whatever
    the report's size); None while it has no report, or once the report has expired."""
    if found.report_uri is None:
        return None
    report_bucket, key = parse_s3_uri(found.report_uri)
    if report_bucket != bucket.name:
        return None
    try:
        size, _ = bucket.head(key)
        data = bucket.read(key, None, 0, min(size, max_bytes))
    except ObjectGoneError:
        return None
    complete = size <= max_bytes
    if not complete:
        data = data[: data.rfind(b"\n") + 1]  # the last whole line
    lines = data.decode("utf-8", errors="replace").splitlines()
    rows = tuple(
        (fields[0], fields[1], fields[2])
        for fields in csv.reader(lines[1:])
        if len(fields) == len(("row", "outcome", "reason"))
    )
    return ReportHead(rows, complete)
