"""The analyses table: one record per delivery analysis and one item per piece of a run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from consentry.core.persistence import table

RECORD = "RECORD"
"""The sort key of a delivery's record; its pieces have the others."""
KEPT_FOR = timedelta(days=90)
"""As long as the data bucket keeps the run's objects (the `analyses/` lifecycle rule)."""


class RecentIndex(GlobalSecondaryIndex["AnalysisModel"]):
    """The records by creation time: only records carry `created_at`, so pieces stay out."""

    class Meta:
        index_name = "recent"
        projection = AllProjection()

    item = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


@table("analyses_table")
class AnalysisModel(Model):
    """A delivery analysis: its record (item `RECORD`) and one item per shard (`SHARD#n`)."""

    class Meta:
        table_name = "analyses"

    delivery_id = UnicodeAttribute(hash_key=True)
    item = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    request: MapAttribute[str, Any] = MapAttribute(null=True)
    consent_as_of = UTCDateTimeAttribute(null=True)
    audience_size = NumberAttribute(null=True)
    target_size = NumberAttribute(null=True)
    excluded: MapAttribute[str, Any] = MapAttribute(null=True)
    ends: ListAttribute[Any] = ListAttribute(of=NumberAttribute, null=True)
    """A piece's index into the one object it wrote: where each section ends (bytes)."""
    target_uri = UnicodeAttribute(null=True)
    target_parts = NumberAttribute(null=True)
    exclusion_log_uri = UnicodeAttribute(null=True)
    error: MapAttribute[str, Any] = MapAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    expires_at = TTLAttribute(null=True)

    recent = RecentIndex()


def plain_map(value: Any) -> dict[str, Any]:
    """A map attribute's value as a plain dict ({} when there is none)."""
    if value is None:
        return {}
    return dict(value.as_dict() if hasattr(value, "as_dict") else value)
