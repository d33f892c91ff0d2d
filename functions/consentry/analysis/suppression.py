"""The suppression data of an analysis, and how it is read: once as a snapshot, or looked
up per shard, whichever DynamoDB charges less for.

A snapshot reads the sparse indexes whole: the `opted-out` GSI (16 buckets, queried in
parallel), the keys-only `blocked` GSI of the channel's denylisted and quarantined
addresses (allowlisted addresses have their own status, so they are never among them;
22 address ranges per status, queried in parallel), and a service's subscriptions. The
index pages are taken as DynamoDB's JSON, before botocore's parser walks them. Lookups
read the rows' own keys with BatchGetItem. Both keep raw items inside this module and
count the read request units DynamoDB charges for what they read (`ReadMeter`), so the
rule that picks one can be checked.

The cost model, in read request units (RRU; eventually consistent, 0.5 per 4 KB):

    snapshot = 0.5 * (opted-out index bytes / 4 KB + 16)     marketing only
             + 0.5 * (blocked index bytes / 4 KB + 44)
             + 0.5 * (subscriptions bytes / 4 KB + 1)         service deliveries only
    lookups  = 0.5 * rows * keys per row                     1 address key, + 1 profile
                                                             key (marketing), + 1
                                                             subscription key (service)

A query pays for the bytes it reads in 4 KB units, at least one unit per query (16
buckets of the opted-out index, two statuses of 22 ranges of the blocked index, one
service); a batch get pays one unit per key, found or not. The bytes come from DescribeTable
(whole indexes: an upper bound, updated every six hours, free to read). Lookups win
when `rows * keys per row < index bytes / 4 KB`: for small audiences against large
suppression lists (test sends, small segments); a snapshot wins for everything else.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from consentry.addresses.counting import released_by_time
from consentry.addresses.status import AddressState, AddressStatus, address_key
from consentry.addresses.tables import AddressModel
from consentry.analysis.classifier import CAUSES, Suppression
from consentry.analysis.exclusion import ExclusionCause
from consentry.analysis.run import SuppressionRead
from consentry.analysis.terms import CheckedRequest, IncompleteAnalysisError
from consentry.consent.subscriptions import SubscriptionStatus
from consentry.consent.tables import OPTED_OUT_BUCKETS, ProfileModel, SubscriptionModel
from consentry.core.errors import StoreUnavailableError
from consentry.core.persistence import dynamodb
from consentry.core.types import Address, Channel, ProfileId, ServiceId

READ_UNIT_BYTES = 4096
EVENTUAL_READ_UNITS = 0.5
"""Read request units of an eventually consistent read of up to 4 KB."""
BATCH_KEYS = 100
"""BatchGetItem's limit of keys per request."""
BLOCKING_STATUSES = (AddressStatus.DENYLISTED, AddressStatus.QUARANTINE)
UNPROCESSED_ATTEMPTS = 6


class ReadMeter:
    """Read request units, computed with DynamoDB's metering rules from the items read:
    a query page costs its items' size in 4 KB units, a batch get 4 KB units per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.read_units = 0.0
        self.items = 0
        self.requests = 0

    def page(self, items: list[dict[str, Any]]) -> None:
        size = sum(item_size(item) for item in items)
        self._add(max(1, math.ceil(size / READ_UNIT_BYTES)) * EVENTUAL_READ_UNITS, len(items))

    def keys(self, keys: int, items: list[dict[str, Any]]) -> None:
        larger = sum(max(0, math.ceil(item_size(item) / READ_UNIT_BYTES) - 1) for item in items)
        self._add((keys + larger) * EVENTUAL_READ_UNITS, len(items))

    def _add(self, units: float, items: int) -> None:
        with self._lock:
            self.read_units += units
            self.items += items
            self.requests += 1


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB meters it: names plus values, in bytes.

    Run on every item Plan reads: ASCII text, the common case, is counted without
    encoding it or calling per attribute (half the time per item)."""
    size = 0
    for name, value in item.items():
        text = value.get("S")
        if text is not None and text.isascii() and name.isascii():
            size += len(name) + len(text)
        else:
            size += len(name.encode()) + _value_size(value)
    return size


def _value_size(value: dict[str, Any]) -> int:  # noqa: PLR0911 (one return per type)
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return (len(data.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in data.items())
    return 1


_RAW = threading.local()
"""Set on a thread while it reads raw pages: only those Query answers skip the parser."""
RAW_QUERY_HANDLER = "consentry-raw-query-pages"
ADDRESS_SPLITS = (
    "+2", "+4", "+6", "+8", "1", "3", "5", "7", "9", "b", "d", "f", "h", "j", "l", "n",
    "p", "r", "t", "v", "x",
)  # fmt: skip
"""Where the address ranges of the `blocked` index are cut, after the channel's prefix:
phone numbers (+...), then digits and letters; read in parallel, one range a thread."""


def _keep_raw_page(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's `before-parse` hook: hand the page's JSON over as DynamoDB sent it,
    and let the parser see an empty body (its shape-driven walk costs 8.7 us a
    profile item and 27.5 us an address item; json.loads under 1 us)."""
    if getattr(_RAW, "on", False) and response_dict.get("status_code", 500) < 300:
        customized_response_dict.update(json.loads(response_dict["body"]))
        response_dict["body"] = b"{}"


def _raw_client(model: Any) -> Any:
    client = model._get_connection().connection.client
    client.meta.events.register(
        "before-parse.dynamodb.Query", _keep_raw_page, unique_id=RAW_QUERY_HANDLER
    )
    return client


def raw_query(
    model: Any,
    meter: ReadMeter,
    *,
    index_name: str,
    hash_key: tuple[str, str],
    range_key: tuple[str, str, tuple[str, ...]] | None = None,
    page_size: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of one key of an index, page by page, as DynamoDB's JSON (`{"S": ...}`
    values). `range_key` is `(name, "<"|">="|"BETWEEN", values)`; `page_size` sets
    `Limit` (tests; DynamoDB's own page is 1 MB). StoreUnavailableError when a page
    cannot be read: no partial list is ever returned."""
    client = _raw_client(model)
    names = {"#h": hash_key[0]}
    values: dict[str, Any] = {":h": {"S": hash_key[1]}}
    condition = "#h = :h"
    if range_key is not None:
        name, operator, bounds = range_key
        names["#r"] = name
        placeholders = [f":r{n}" for n in range(len(bounds))]
        values.update({p: {"S": b} for p, b in zip(placeholders, bounds, strict=True)})
        condition += f" AND #r {operator} " + " AND ".join(placeholders)
    params: dict[str, Any] = {
        "TableName": model.Meta.table_name,
        "IndexName": index_name,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    if page_size is not None:
        params["Limit"] = page_size
    while True:
        _RAW.on = True
        try:
            page = client.query(**params)
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailableError(f"{index_name}: {error}") from error
        finally:
            _RAW.on = False
        items: list[dict[str, Any]] = page.get("Items", [])
        meter.page(items)
        yield from items
        start = page.get("LastEvaluatedKey")
        if not start:
            return
        params["ExclusiveStartKey"] = start


def covers(opt_out_all: bool, opt_out_channels: Iterable[str], channel: Channel) -> bool:
    """Whether a profile's opt-out flags stop marketing on `channel` (ConsentState.blocks)."""
    return opt_out_all or channel.value in opt_out_channels


def item_opts_out(item: dict[str, Any], channel: Channel) -> bool:
    """Whether a profile item's opt-out flags (as DynamoDB's JSON) cover `channel`."""
    return covers(
        bool(item.get("opt_out_all", {}).get("BOOL")),
        item.get("opt_out_channels", {}).get("SS", ()),
        channel,
    )


def opted_out_by_channel(
    channels: Iterable[Channel], meter: ReadMeter, *, page_size: int | None = None
) -> dict[Channel, list[ProfileId]]:
    """For each of `channels`, every profile whose opt-out covers it, from the sparse
    opted-out index (its 16 buckets read in parallel; only ids are kept, each once)."""
    wanted = list(channels)

    def bucket(number: int) -> dict[Channel, list[ProfileId]]:
        found: dict[Channel, list[ProfileId]] = {channel: [] for channel in wanted}
        for item in raw_query(
            ProfileModel,
            meter,
            index_name=ProfileModel.opted_out_index.Meta.index_name,
            hash_key=("opted_out_bucket", str(number)),
            page_size=page_size,
        ):
            profile_id = ProfileId(item["profile_id"]["S"])
            for channel in wanted:
                if item_opts_out(item, channel):
                    found[channel].append(profile_id)
        return found

    with ThreadPoolExecutor(max_workers=OPTED_OUT_BUCKETS) as pool:
        buckets = list(pool.map(bucket, range(OPTED_OUT_BUCKETS)))
    return {channel: [p for found in buckets for p in found[channel]] for channel in wanted}


def opted_out_profiles(
    channel: Channel, meter: ReadMeter, *, page_size: int | None = None
) -> list[ProfileId]:
    """Every profile whose opt-out covers `channel`, from the sparse opted-out index."""
    return opted_out_by_channel([channel], meter, page_size=page_size)[channel]


def address_ranges(channel: Channel) -> list[tuple[str, tuple[str, ...]]]:
    """Key conditions on `address_key` that together cover every address of `channel`:
    below the first cut, between cuts (an address on a cut is read twice, harmlessly),
    from the last cut on."""
    cuts = [f"{channel.value}#{cut}" for cut in sorted(ADDRESS_SPLITS)]
    return [
        ("<", (cuts[0],)),
        *(("BETWEEN", (low, high)) for low, high in itertools.pairwise(cuts)),
        (">=", (cuts[-1],)),
    ]


def blocked_entries(
    channel: Channel,
    status: AddressStatus,
    meter: ReadMeter,
    *,
    page_size: int | None = None,
) -> dict[Address, datetime | None]:
    """The channel's addresses with `status`, each with when it stops blocking by itself
    (`release_date`), from the sparse `blocked` index, its address ranges read in
    parallel."""
    prefix = len(channel.value) + 1

    def addresses_in(condition: tuple[str, tuple[str, ...]]) -> list[tuple[Address, Any]]:
        operator, bounds = condition
        return [
            (Address(item["address_key"]["S"][prefix:]), release_date(item, status))
            for item in raw_query(
                AddressModel,
                meter,
                index_name=AddressModel.blocked_index.Meta.index_name,
                hash_key=("status_key", f"{channel.value}#{status.value}"),
                range_key=("address_key", operator, bounds),
                page_size=page_size,
            )
        ]

    ranges = address_ranges(channel)
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        return {a: ends for found in pool.map(addresses_in, ranges) for a, ends in found}


def addresses_with(
    channel: Channel,
    status: AddressStatus,
    at: datetime,
    meter: ReadMeter,
    *,
    page_size: int | None = None,
) -> list[Address]:
    """The channel's addresses with `status` at `at`: a quarantine whose release fell
    due by `at` no longer counts, job or no job."""
    return [
        address
        for address, ends in blocked_entries(channel, status, meter, page_size=page_size).items()
        if ends is None or at < ends
    ]


def release_date(item: dict[str, Any], status: AddressStatus) -> datetime | None:
    """When an address blocked as `status` stops blocking by itself: a mailbox-full
    quarantine's release date (the `blocked` and `changed` indexes project the three
    attributes that say so); None when only an operator or new feedback ends it (a
    denylisted address stays blocked whatever its delivery health)."""
    if status is not AddressStatus.QUARANTINE:
        return None
    if item.get("error_status", {}).get("S") != AddressStatus.QUARANTINE.value:
        return None
    release_at = item.get("release_at", {}).get("S")
    if not release_at:
        return None
    at = utc(release_at)
    state = AddressState(
        channel=Channel.EMAIL,  # the rule reads neither the channel nor the address
        address=Address("-"),
        error_status=AddressStatus.QUARANTINE,
        reason=item.get("reason", {}).get("S"),
        release_at=at,
    )
    return at if released_by_time(state, at) else None


def _released(item: dict[str, Any], status: AddressStatus, at: datetime) -> bool:
    """Whether an address blocked as `status` is a quarantine that ended by itself by `at`."""
    ends = release_date(item, status)
    return ends is not None and at >= ends


def active_subscribers(service_id: ServiceId, at: datetime, meter: ReadMeter) -> list[ProfileId]:
    """Profiles with a confirmed subscription to the service that has not expired at `at`
    (Subscription.active)."""
    active = (SubscriptionModel.status == SubscriptionStatus.SUBSCRIBED.value) & (
        SubscriptionModel.expires_at.does_not_exist() | (SubscriptionModel.expires_at > at)
    )
    connection = SubscriptionModel._get_connection()
    found: list[ProfileId] = []
    start = None
    while True:
        with dynamodb():
            page = connection.query(service_id, exclusive_start_key=start, filter_condition=active)
        items = page.get("Items", [])
        meter.page(items)
        found += [ProfileId(item["profile_id"]["S"]) for item in items]
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


@dataclass(frozen=True)
class Found:
    """What lookups found for a shard's keys."""

    opted_out: set[ProfileId]
    blocked: dict[Address, AddressStatus]
    subscribers: set[ProfileId]


def look_up(
    channel: Channel,
    *,
    profiles: set[str],
    addresses: set[str],
    service_id: ServiceId | None,
    at: datetime,
    meter: ReadMeter,
) -> Found:
    """The suppression data of these profiles and addresses only (BatchGetItem)."""
    opted_out = {
        ProfileId(item["profile_id"]["S"])
        for item in _batch_get(ProfileModel, [_key(profile_id=p) for p in sorted(profiles)], meter)
        if item_opts_out(item, channel)
    }
    blocking = {status.value for status in BLOCKING_STATUSES}
    blocked = {
        Address(item["address"]["S"]): AddressStatus(item["status"]["S"])
        for item in _batch_get(
            AddressModel,
            [_key(address_key=address_key(channel, Address(a))) for a in sorted(addresses)],
            meter,
        )
        if item["status"]["S"] in blocking
        and not _released(item, AddressStatus(item["status"]["S"]), at)
    }
    subscribers: set[ProfileId] = set()
    if service_id is not None:
        keys = [_key(service_id=service_id, profile_id=p) for p in sorted(profiles)]
        for item in _batch_get(SubscriptionModel, keys, meter):
            expires = item.get("expires_at", {}).get("S")
            if item["status"]["S"] == SubscriptionStatus.SUBSCRIBED.value and (
                expires is None or utc(expires) > at
            ):
                subscribers.add(ProfileId(item["profile_id"]["S"]))
    return Found(opted_out=opted_out, blocked=blocked, subscribers=subscribers)


def utc(value: str) -> datetime:
    """A UTCDateTimeAttribute's stored text as a datetime."""
    parsed: datetime = SubscriptionModel.expires_at.deserialize(value)  # type: ignore[no-untyped-call]
    return parsed


def _key(**values: str) -> dict[str, Any]:
    return {name: {"S": value} for name, value in values.items()}


def _batch_get(
    model: Any, keys: list[dict[str, Any]], meter: ReadMeter
) -> Iterator[dict[str, Any]]:
    connection = model._get_connection()
    table = model.Meta.table_name
    for start in range(0, len(keys), BATCH_KEYS):
        pending = keys[start : start + BATCH_KEYS]
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                time.sleep(0.05 * 2**attempt)
            with dynamodb():
                response = connection.batch_get_item(pending)
            items = response.get("Responses", {}).get(table, [])
            unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            meter.keys(len(pending) - len(unprocessed), items)
            yield from items
            if not unprocessed:
                break
            pending = unprocessed
        else:
            raise StoreUnavailableError("the consent store left keys unprocessed after retries")


@dataclass(frozen=True)
class Sizes:
    """What a snapshot of the channel would read, as DescribeTable estimates it."""

    opted_out_bytes: int
    blocked_bytes: int
    subscriptions_bytes: int


ASSUMED_ITEM_BYTES = {"opted-out": 80, "blocked": 60, "subscriptions": 140}
"""Item sizes assumed where DescribeTable gives counts but no sizes (moto gives neither
for indexes): the profile projection, an address's keys, a subscription item."""


def snapshot_sizes(service_id: ServiceId | None) -> Sizes:
    """Upper estimates of the bytes a snapshot reads: the whole of each index or table.

    DynamoDB refreshes these figures about every six hours; they cost no read units.
    """
    profiles = _describe(ProfileModel)
    addresses = _describe(AddressModel)
    subscriptions = _describe(SubscriptionModel) if service_id else {}
    return Sizes(
        opted_out_bytes=_index_bytes(profiles, ProfileModel.opted_out_index.Meta.index_name),
        blocked_bytes=_index_bytes(addresses, AddressModel.blocked_index.Meta.index_name),
        subscriptions_bytes=_table_bytes(subscriptions, "subscriptions"),
    )


def _describe(model: Any) -> dict[str, Any]:
    with dynamodb():
        described: dict[str, Any] = model._get_connection().describe_table()
    return described


def _index_bytes(table: dict[str, Any], index_name: str) -> int:
    index: dict[str, Any] = next(
        (i for i in table.get("GlobalSecondaryIndexes", []) if i["IndexName"] == index_name), {}
    )
    if index.get("IndexSizeBytes"):
        return int(index["IndexSizeBytes"])
    count = int(index.get("ItemCount") or table.get("ItemCount") or 0)
    return count * ASSUMED_ITEM_BYTES[index_name]


def _table_bytes(table: dict[str, Any], name: str) -> int:
    if table.get("TableSizeBytes"):
        return int(table["TableSizeBytes"])
    return int(table.get("ItemCount") or 0) * ASSUMED_ITEM_BYTES[name]


def _units(size: int, queries: int) -> float:
    return (math.ceil(size / READ_UNIT_BYTES) + queries) * EVENTUAL_READ_UNITS


def snapshot_units(request: CheckedRequest, sizes: Sizes) -> float:
    units = _units(sizes.blocked_bytes, len(BLOCKING_STATUSES) * (len(ADDRESS_SPLITS) + 1))
    if request.marketing:
        units += _units(sizes.opted_out_bytes, OPTED_OUT_BUCKETS)
        if request.service_id:
            units += _units(sizes.subscriptions_bytes, 1)
    return units


def keys_per_row(request: CheckedRequest) -> int:
    if not request.marketing:
        return 1
    return 3 if request.service_id else 2


def lookup_units(request: CheckedRequest, rows: int) -> float:
    return rows * keys_per_row(request) * EVENTUAL_READ_UNITS


def choose_read(request: CheckedRequest, estimated_rows: int, sizes: Sizes) -> SuppressionRead:
    """The cheaper way to read the suppression data, in read request units."""
    if lookup_units(request, estimated_rows) < snapshot_units(request, sizes):
        return SuppressionRead.LOOKUPS
    return SuppressionRead.SNAPSHOT


def read_snapshot(request: CheckedRequest, at: datetime, meter: ReadMeter) -> dict[str, Any]:
    """The channel's suppression data as a JSON document (what suppression.json holds)."""
    channel: Channel = request.channel
    marketing = request.marketing
    service = request.service
    return {
        "consentAsOf": at.isoformat(),
        "optedOut": opted_out_profiles(channel, meter) if marketing else [],
        "denylisted": addresses_with(channel, AddressStatus.DENYLISTED, at, meter),
        "quarantined": addresses_with(channel, AddressStatus.QUARANTINE, at, meter),
        "subscribers": active_subscribers(service, at, meter) if marketing and service else None,
        "erased": erased_of(channel),
    }


def erased_of(channel: Channel) -> dict[str, str]:
    """The channel's erased addresses' fingerprints, with the cause each keeps."""
    from consentry.privacy import fingerprints  # noqa: PLC0415 (first use: not the schedule's)

    return {key: cause.value for key, cause in fingerprints.of_channel(channel).items()}


def _erased_verdicts(erased: dict[str, str]) -> dict[str, int]:
    return {key: CAUSES.index(ExclusionCause(cause)) + 1 for key, cause in erased.items()}


def from_snapshot(document: bytes, consent_as_of: datetime | None = None) -> Suppression:
    """The suppression data of a snapshot; with `consent_as_of` (what the run recorded),
    refused (IncompleteAnalysisError) when it was read earlier than that: a run never
    classifies with data older than the moment it reports."""
    data = json.loads(document)
    if consent_as_of is not None:
        read_at = data.get("consentAsOf")
        if read_at is None or datetime.fromisoformat(read_at) < consent_as_of:
            raise IncompleteAnalysisError(
                f"the suppression snapshot was read at {read_at}, before this analysis's "
                f"consentAsOf {consent_as_of.isoformat()}: it is not this run's"
            )
    return Suppression.of(
        opted_out=data["optedOut"],
        denylisted=data["denylisted"],
        quarantined=data["quarantined"],
        subscribers=data["subscribers"],
        erased=_erased_verdicts(data.get("erased") or {}),
    )


def looked_up(
    request: CheckedRequest,
    *,
    profiles: set[str],
    addresses: set[str],
    at: datetime,
    meter: ReadMeter,
) -> Suppression:
    """The suppression data of one shard's profiles and addresses only."""
    found = look_up(
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
        erased=_erased_verdicts(erased_of(request.channel)),
    )
