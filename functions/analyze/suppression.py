"""The suppression data of an analysis: read once as a snapshot, or looked up per shard,
whichever DynamoDB charges less for.

The cost model, in read request units (RRU; eventually consistent, 0.5 per 4 KB):

    snapshot = 0.5 * (opted-out index bytes / 4 KB + 16)     marketing only
             + 0.5 * (by-status index bytes / 4 KB + 2)
             + 0.5 * (subscriptions bytes / 4 KB + 1)         service deliveries only
    lookups  = 0.5 * rows * keys per row                     1 address key, + 1 profile
                                                             key (marketing), + 1
                                                             subscription key (service)

A query pays for the bytes it reads in 4 KB units, at least one unit per query (16
buckets of the opted-out index, two statuses of the by-status index, one service); a
batch get pays one unit per key, found or not. The bytes come from DescribeTable
(whole indexes: an upper bound, updated every six hours, free to read). Lookups win
when `rows * keys per row < index bytes / 4 KB`: for small audiences against large
suppression lists (test sends, small segments); a snapshot wins for everything else.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from consentry.addresses.status import AddressStatus
from consentry.analysis import suppression_store
from consentry.analysis.classifier import Suppression
from consentry.analysis.contract import AnalysisRequest
from consentry.analysis.run import SuppressionRead
from consentry.analysis.suppression_store import (
    EVENTUAL_READ_UNITS,
    READ_UNIT_BYTES,
    ReadMeter,
    Sizes,
)
from consentry.consent.tables import OPTED_OUT_BUCKETS
from consentry.core.types import Channel


def _units(size: int, queries: int) -> float:
    return (math.ceil(size / READ_UNIT_BYTES) + queries) * EVENTUAL_READ_UNITS


def snapshot_units(request: AnalysisRequest, sizes: Sizes) -> float:
    units = _units(sizes.blocked_bytes, len(suppression_store.BLOCKING_STATUSES))
    if request.marketing:
        units += _units(sizes.opted_out_bytes, OPTED_OUT_BUCKETS)
        if request.service_id:
            units += _units(sizes.subscriptions_bytes, 1)
    return units


def keys_per_row(request: AnalysisRequest) -> int:
    if not request.marketing:
        return 1
    return 3 if request.service_id else 2


def lookup_units(request: AnalysisRequest, rows: int) -> float:
    return rows * keys_per_row(request) * EVENTUAL_READ_UNITS


def choose_read(request: AnalysisRequest, estimated_rows: int, sizes: Sizes) -> SuppressionRead:
    """The cheaper way to read the suppression data, in read request units."""
    if lookup_units(request, estimated_rows) < snapshot_units(request, sizes):
        return SuppressionRead.LOOKUPS
    return SuppressionRead.SNAPSHOT


def read_snapshot(request: AnalysisRequest, at: datetime, meter: ReadMeter) -> dict[str, Any]:
    """The channel's suppression data as a JSON document (what suppression.json holds)."""
    channel: Channel = request.channel
    marketing = request.marketing
    service = request.service
    return {
        "consentAsOf": at.isoformat(),
        "optedOut": suppression_store.opted_out_profiles(channel, meter) if marketing else [],
        "denylisted": suppression_store.addresses_with(channel, AddressStatus.DENYLISTED, meter),
        "quarantined": suppression_store.addresses_with(channel, AddressStatus.QUARANTINE, meter),
        "subscribers": suppression_store.active_subscribers(service, at, meter)
        if marketing and service
        else None,
    }


def from_snapshot(document: bytes) -> Suppression:
    data = json.loads(document)
    return Suppression.of(
        opted_out=data["optedOut"],
        denylisted=data["denylisted"],
        quarantined=data["quarantined"],
        subscribers=data["subscribers"],
    )


def looked_up(
    request: AnalysisRequest,
    *,
    profiles: set[str],
    addresses: set[str],
    at: datetime,
    meter: ReadMeter,
) -> Suppression:
    """The suppression data of one shard's profiles and addresses only."""
    found = suppression_store.look_up(
        request.channel,
        profiles=profiles if request.marketing else set(),
        addresses=addresses,
        service_id=request.service if request.marketing else None,
        at=at,
        meter=meter,
    )
    return Suppression.of(
        opted_out=found.opted_out,
        denylisted=[a for a, s in found.blocked.items() if s is AddressStatus.DENYLISTED],
        quarantined=[a for a, s in found.blocked.items() if s is AddressStatus.QUARANTINE],
        subscribers=found.subscribers if request.marketing and request.service_id else None,
    )
