"""The daily-counts table: one item per series, day and dimensions, and one marker per
counted change. Items never leave this package; a contract test holds the keys against
template.yaml."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from consentry.core.persistence import table


@table("daily_counts_table")
class DailyCountModel(Model):
    """A count (`series`, `<day>#<dimensions>`), or a marker (`counted#<id>`, `-`)."""

    class Meta:
        table_name = "daily-counts"

    series = UnicodeAttribute(hash_key=True)
    cell = UnicodeAttribute(range_key=True)
    total = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
