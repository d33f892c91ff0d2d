"""Data access for bulk imports: the only module that maps the imports table."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from consentry.core.errors import NotFoundError
from consentry.core.persistence import LostRace, dynamodb
from consentry.imports.rules import (
    ImportCounts,
    ImportKind,
    ImportRecord,
    ImportStatus,
    parse_s3_uri,
)
from consentry.imports.tables import LISTED, ImportModel

RETENTION = timedelta(days=90)
"""As long as the data bucket keeps the reports (its `imports` lifecycle rule)."""


def find(import_id: str) -> ImportRecord | None:
    with dynamodb():
        try:
            item = ImportModel.get(import_id, consistent_read=True)
        except ImportModel.DoesNotExist:
            return None
    return _to_record(item)


def get(import_id: str) -> ImportRecord:
    record = find(import_id)
    if record is None:
        raise NotFoundError("import", import_id)
    return record


def latest(limit: int) -> list[ImportRecord]:
    """The newest imports, newest first (one query of the `recent` index)."""
    with dynamodb():
        items = list(ImportModel.recent.query(LISTED, scan_index_forward=False, limit=limit))
    return [_to_record(item) for item in items]


def create(record: ImportRecord) -> bool:
    """Store a new import; False when an import with its id already exists."""
    try:
        with dynamodb():
            _to_item(record).save(condition=ImportModel.import_id.does_not_exist())
    except LostRace:
        return False
    return True


def claim(import_id: str, *, now: datetime, until: datetime) -> ImportRecord | None:
    """Mark the import running for a run that ends by `until`.

    None when it is done, or when another run holds it (a duplicate delivery of the
    same invocation); a run that ended without releasing it holds it no longer.
    """
    item = ImportModel(import_id)
    free = (ImportModel.status != ImportStatus.RUNNING.value) | (ImportModel.lease_until < now)
    try:
        with dynamodb():
            item.update(
                actions=[
                    ImportModel.status.set(ImportStatus.RUNNING.value),
                    ImportModel.lease_until.set(until),
                    ImportModel.updated_at.set(now),
                ],
                condition=ImportModel.import_id.exists()
                & (ImportModel.status != ImportStatus.DONE.value)
                & free,
            )
    except LostRace:
        return None
    return _to_record(item)


def save_counts(import_id: str, counts: ImportCounts, *, now: datetime) -> None:
    """The progress of a running import."""
    _update(
        import_id,
        [ImportModel.counts.set(asdict(counts)), ImportModel.updated_at.set(now)],
    )


def finish(
    import_id: str,
    *,
    status: ImportStatus,
    counts: ImportCounts | None,
    report_uri: str | None,
    error: str | None,
    now: datetime,
) -> ImportRecord:
    """Record how a run ended and release the import; `counts` None keeps the stored ones."""
    actions: list[Any] = [
        ImportModel.status.set(status.value),
        ImportModel.updated_at.set(now),
        ImportModel.lease_until.remove(),
        ImportModel.error.set(error) if error else ImportModel.error.remove(),
    ]
    if counts is not None:
        actions.append(ImportModel.counts.set(asdict(counts)))
    if report_uri is not None:
        actions.append(ImportModel.report_uri.set(report_uri))
    return _update(import_id, actions)


def _update(import_id: str, actions: list[Any]) -> ImportRecord:
    item = ImportModel(import_id)
    try:
        with dynamodb():
            item.update(actions=actions, condition=ImportModel.import_id.exists())
    except LostRace as race:
        raise NotFoundError("import", import_id) from race
    return _to_record(item)


def _to_record(item: ImportModel) -> ImportRecord:
    bucket, key = parse_s3_uri(item.source_uri)
    counts = item.counts.attribute_values if item.counts is not None else {}
    return ImportRecord(
        import_id=item.import_id,
        kind=ImportKind(item.kind),
        bucket=bucket,
        key=key,
        etag=item.source_etag,
        status=ImportStatus(item.status),
        counts=ImportCounts(**{name: int(value) for name, value in counts.items()}),
        report_uri=item.report_uri,
        error=item.error,
        created_at=item.created_at,
        updated_at=item.updated_at,
        lease_until=item.lease_until,
    )


def _to_item(record: ImportRecord) -> ImportModel:
    return ImportModel(
        record.import_id,
        kind=record.kind.value,
        source_uri=record.source_uri,
        source_etag=record.etag,
        status=record.status.value,
        counts=asdict(record.counts),
        report_uri=record.report_uri,
        error=record.error,
        lease_until=record.lease_until,
        created_at=record.created_at,
        updated_at=record.updated_at,
        expires_at=record.created_at + RETENTION,
        listed=LISTED,
    )
