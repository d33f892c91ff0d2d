"""The imports table: one record per bulk import."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from consentry.core.persistence import table


@table("imports_table")
class ImportModel(Model):
    """A bulk import of consent flags and address statuses from a CSV in S3."""

    class Meta:
        table_name = "imports"

    import_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    source_uri = UnicodeAttribute()
    source_etag = UnicodeAttribute()
    status = UnicodeAttribute()
    counts: MapAttribute[str, Any] = MapAttribute(null=True)
    report_uri = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    """Why a failed import failed."""
    lease_until = UTCDateTimeAttribute(null=True)
    """While running: when the run that holds the import ends at the latest."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
