"""The imports table: one record per bulk import."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from consentry.core.persistence import table

LISTED = "import"
"""The value of `listed` on every import: the `recent` index's one partition."""


class RecentIndex(GlobalSecondaryIndex["ImportModel"]):
    """The imports by creation time, newest last."""

    class Meta:
        index_name = "recent"
        projection = AllProjection()

    listed = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


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
    listed = UnicodeAttribute(null=True)
    """`LISTED`, so that the import is in the `recent` index."""

    recent = RecentIndex()
