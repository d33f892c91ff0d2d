"""The erased-addresses table: one keyed fingerprint per erased address and channel.

Items never leave the stores of this package; a contract test holds keys against
template.yaml.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from consentry.core.persistence import table


@table("erased_addresses_table")
class ErasedAddressModel(Model):
    """What one erased address still stops, under the HMAC of its normalized form."""

    class Meta:
        table_name = "erased-addresses"

    fingerprint = UnicodeAttribute(hash_key=True)
    """`<key id>:<channel>:<hex HMAC-SHA256 of the channel and the normalized address>`."""
    channel = UnicodeAttribute()
    cause = UnicodeAttribute()
    """The exclusion cause the address carried when it was erased."""
    reason = UnicodeAttribute(null=True)
    """The quarantine's or denylist's reason, when the cause is one of those."""
    erased_at = UTCDateTimeAttribute()
    lifted_at = UTCDateTimeAttribute(null=True)
    lifted_by = UnicodeAttribute(null=True)
    lift_reason = UnicodeAttribute(null=True)
