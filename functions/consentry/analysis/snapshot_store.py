"""The stored suppression snapshot: each channel's opted-out profiles and blocked
addresses, written to the data bucket every `SuppressionSnapshotMinutes` by reading the
sparse indexes whole, and brought up to the moment of an analysis by what was written
since (the `changed` index of both tables, consentry.core.changed).

Plan reads the channel's snapshot (one object) and the items written since a margin
before it was taken, and lets each of those items' current state replace what the
snapshot says of it. Fail-closed:

- The snapshot is taken (`asOf`) before its first index page is read, so whatever was
  written before `asOf` is in its pages.
- An item written at or after `asOf` is stamped `changed_at` when it is built, at most
  one function timeout (15 minutes) before its transaction commits; reading from
  `asOf - TAIL_MARGIN` (20 minutes) therefore finds every write that committed after
  the snapshot's pages were read. Reading more is harmless: an item's current state
  is the truth whenever it was written.
- A snapshot that is missing, cannot be decoded, or is older than the deployment
  allows (`SuppressionSnapshotMaxAgeMinutes`) fails the analysis: an old one would
  make the catch-up read long, and it means the schedule has stopped.

Profiles erased after a snapshot stay in it until the next one, opted out (the
erasure keeps the opt-out anyway); their addresses' fingerprints are read apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from consentry.addresses.status import AddressStatus
from consentry.addresses.tables import AddressModel
from consentry.analysis import suppression
from consentry.analysis.suppression import BLOCKING_STATUSES, ReadMeter, raw_query
from consentry.analysis.terms import CheckedRequest, IncompleteAnalysisError
from consentry.consent.tables import ProfileModel
from consentry.core.bucket import DataBucket, ObjectGoneError
from consentry.core.changed import changed_days
from consentry.core.types import Channel, ProfileId

PREFIX = "suppression/"
TAIL_MARGIN = timedelta(minutes=20)
"""How far before a snapshot's `asOf` the catch-up read starts: longer than any
function's timeout (900 s), the longest a write can take from its stamp to its commit."""
FORMAT = 1


def snapshot_key(channel: Channel) -> str:
    return f"{PREFIX}{channel.value}.json"


@dataclass(frozen=True)
class ChannelSnapshot:
    """One channel's suppression data as of `as_of`: opted-out profiles, denylisted and
    quarantined addresses, and when the quarantines that end by themselves end (a
    mailbox-full quarantine's release date)."""

    channel: Channel
    as_of: datetime
    opted_out: frozenset[str] = frozenset()
    denylisted: frozenset[str] = frozenset()
    quarantined: frozenset[str] = frozenset()
    ends: dict[str, datetime] = field(default_factory=dict)

    def quarantined_at(self, at: datetime) -> list[str]:
        """The quarantined addresses whose quarantine has not ended by itself by `at`."""
        ends = self.ends
        return [a for a in self.quarantined if a not in ends or at < ends[a]]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "channel": self.channel.value,
                "asOf": self.as_of.isoformat(),
                "optedOut": sorted(self.opted_out),
                "denylisted": sorted(self.denylisted),
                "quarantined": sorted(self.quarantined),
                "ends": {a: at.isoformat() for a, at in sorted(self.ends.items())},
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ChannelSnapshot:
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        return cls(
            channel=Channel(data["channel"]),
            as_of=datetime.fromisoformat(data["asOf"]),
            opted_out=frozenset(data["optedOut"]),
            denylisted=frozenset(data["denylisted"]),
            quarantined=frozenset(data["quarantined"]),
            ends={a: datetime.fromisoformat(at) for a, at in data["ends"].items()},
        )


# ------------------------------------------------------------------ taking snapshots


def take(channels: list[Channel], at: datetime, meter: ReadMeter) -> list[ChannelSnapshot]:
    """Every channel's snapshot as of `at` (taken before the first page is read): the
    opted-out index once, the `blocked` index per channel and status."""
    opted_out = suppression.opted_out_by_channel(channels, meter)
    snapshots = []
    for channel in channels:
        blocked: dict[AddressStatus, set[str]] = {}
        ends: dict[str, datetime] = {}
        for status in BLOCKING_STATUSES:
            entries = suppression.blocked_entries(channel, status, meter)
            blocked[status] = set(entries)
            ends |= {address: at for address, at in entries.items() if at is not None}
        snapshots.append(
            ChannelSnapshot(
                channel=channel,
                as_of=at,
                opted_out=frozenset(opted_out[channel]),
                denylisted=frozenset(blocked[AddressStatus.DENYLISTED]),
                quarantined=frozenset(blocked[AddressStatus.QUARANTINE]),
                ends=ends,
            )
        )
    return snapshots


def write(bucket: DataBucket, snapshot: ChannelSnapshot) -> None:
    bucket.put_bytes(snapshot_key(snapshot.channel), snapshot.to_json(), "application/json")


# ------------------------------------------------------------------ reading them


def read(bucket: DataBucket, channel: Channel, at: datetime, max_age: timedelta) -> ChannelSnapshot:
    """The channel's stored snapshot; IncompleteAnalysisError when there is none, it
    cannot be decoded, or it is older than `max_age` at `at`."""
    key = snapshot_key(channel)
    try:
        raw = bucket.get_bytes(key)
    except ObjectGoneError:
        raise IncompleteAnalysisError(
            f"there is no suppression snapshot of the {channel.value} channel yet "
            "(the SuppressionSnapshot function writes one on its schedule)"
        ) from None
    try:
        snapshot = ChannelSnapshot.from_json(raw)
    except (ValueError, KeyError, TypeError) as error:
        raise IncompleteAnalysisError(
            f"the suppression snapshot {key} cannot be read: {error}"
        ) from None
    age = at - snapshot.as_of
    if age > max_age:
        raise IncompleteAnalysisError(
            f"the suppression snapshot of the {channel.value} channel was taken at "
            f"{snapshot.as_of.isoformat()}, {_minutes(age)} minutes before this analysis; "
            f"at most {_minutes(max_age)} are allowed (SuppressionSnapshotMaxAgeMinutes)"
        )
    return snapshot


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


@dataclass(frozen=True)
class Written:
    """The profiles and addresses written since a moment, as they are now."""

    profiles: dict[ProfileId, dict[str, Any]]
    addresses: dict[str, dict[str, Any]]
    """By address key (`<channel>#<address>`)."""


def written_since(since: datetime, until: datetime, meter: ReadMeter) -> Written:
    """The items of both tables written from `since` on, from the `changed` index: a
    query per day and shard, in parallel."""
    bound = ProfileModel.changed_at.serialize(since)  # type: ignore[no-untyped-call]
    days = changed_days(since, until)

    def of(model: Any, day: str) -> list[dict[str, Any]]:
        return list(
            raw_query(
                model,
                meter,
                index_name=model.changed_index.Meta.index_name,
                hash_key=("changed_day", day),
                range_key=("changed_at", ">=", (bound,)),
            )
        )

    with ThreadPoolExecutor(max_workers=min(2 * len(days), 16)) as pool:
        profiles = pool.map(lambda day: of(ProfileModel, day), days)
        addresses = pool.map(lambda day: of(AddressModel, day), days)
        return Written(
            profiles={ProfileId(k): v for k, v in latest_writes(profiles, "profile_id").items()},
            addresses=latest_writes(addresses, "address_key"),
        )


def latest_writes(pages: Iterable[list[dict[str, Any]]], key: str) -> dict[str, dict[str, Any]]:
    """Each item's latest version: an item written again on another day may show in
    both days' partitions until the index has caught up."""
    latest: dict[str, dict[str, Any]] = {}
    for page in pages:
        for item in page:
            name = item[key]["S"]
            seen = latest.get(name)
            if seen is None or item["changed_at"]["S"] >= seen["changed_at"]["S"]:
                latest[name] = item
    return latest


def caught_up(snapshot: ChannelSnapshot, written: Written) -> ChannelSnapshot:
    """The snapshot with every item written since replaced by its current state."""
    channel = snapshot.channel
    opted_out = set(snapshot.opted_out)
    for profile_id, item in written.profiles.items():
        if suppression.item_opts_out(item, channel):
            opted_out.add(profile_id)
        else:
            opted_out.discard(profile_id)
    denylisted, quarantined = set(snapshot.denylisted), set(snapshot.quarantined)
    ends = dict(snapshot.ends)
    prefix = f"{channel.value}#"
    for key, item in written.addresses.items():
        if not key.startswith(prefix):
            continue
        address = key[len(prefix) :]
        for found in (denylisted, quarantined):
            found.discard(address)
        ends.pop(address, None)
        status = item.get("status", {}).get("S")
        if status == AddressStatus.DENYLISTED.value:
            denylisted.add(address)
        elif status == AddressStatus.QUARANTINE.value:
            quarantined.add(address)
            release = suppression.release_date(item, AddressStatus.QUARANTINE)
            if release is not None:
                ends[address] = release
    return ChannelSnapshot(
        channel,
        snapshot.as_of,
        frozenset(opted_out),
        frozenset(denylisted),
        frozenset(quarantined),
        ends,
    )


def current(
    request: CheckedRequest,
    bucket: DataBucket,
    at: datetime,
    max_age: timedelta,
    meter: ReadMeter,
) -> dict[str, Any]:
    """The channel's suppression data as of `at` (what the run's suppression.json holds):
    the stored snapshot, caught up with what was written since."""
    channel: Channel = request.channel
    stored = read(bucket, channel, at, max_age)
    snapshot = caught_up(stored, written_since(stored.as_of - TAIL_MARGIN, at, meter))
    service = request.service
    return {
        "consentAsOf": at.isoformat(),
        "snapshotAsOf": stored.as_of.isoformat(),
        "optedOut": list(snapshot.opted_out) if request.marketing else [],
        "denylisted": list(snapshot.denylisted),
        "quarantined": snapshot.quarantined_at(at),
        "subscribers": suppression.active_subscribers(service, at, meter)
        if request.marketing and service
        else None,
        "erased": suppression.erased_of(channel),
    }
