"""The shapes of /v1/imports: bulk imports from the data bucket."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from consent.commands import ApiModel
from consentry.imports.rules import ImportKind, ImportRecord, ImportStatus


class ImportIn(ApiModel):
    uri: Annotated[str, StringConstraints(pattern=r"^s3://[^/\s]+/.+$", max_length=1100)] = Field(
        description="The CSV to import: `s3://<the deployment's data bucket>/<key>`"
    )
    kind: ImportKind


class ImportCountsOut(ApiModel):
    rows: int
    applied: int
    rejected: int
    unchanged: int


class ImportOut(ApiModel):
    import_id: str
    kind: ImportKind
    uri: str
    status: ImportStatus
    counts: ImportCountsOut
    report_uri: str | None
    """`row,outcome,reason` for every row, once the rows have been applied."""
    error: str | None
    """Why a failed import failed."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ImportRecord) -> ImportOut:
        return cls(
            import_id=record.import_id,
            kind=record.kind,
            uri=record.source_uri,
            status=record.status,
            counts=ImportCountsOut.model_validate(asdict(record.counts)),
            report_uri=record.report_uri,
            error=record.error,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )
