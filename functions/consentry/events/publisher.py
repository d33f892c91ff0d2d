"""Publishing stream records on the event bus, in order, at least once.

Records arrive in stream order (per shard, so per profile and per address). They are
published in PutEvents calls of 10 entries, one call after the other. At the first
entry that fails (an error of the call, or an entry PutEvents refused) publishing
stops, and that record and every one after it are reported as failed: Lambda resumes
the shard from the first of them, so nothing is skipped and nothing overtakes an
earlier change. What was published before the failure may be published again on the
retry, with the same event id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from consentry.core.clock import Clock
from consentry.events.changes import EVENT_SOURCE, AddressFingerprint, Change, change_of
from consentry.events.records import StreamRecord

PUT_EVENTS_ENTRIES = 10
"""EventBridge's limit on the entries of one PutEvents call."""


class EventBus(Protocol):
    """The part of the EventBridge client the publisher calls."""

    def put_events(self, *, Entries: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Sent:
    """One change published, with the detail as sent (publishedAt included)."""

    change: Change
    detail: dict[str, Any]
    published_at: datetime

    @property
    def lag_ms(self) -> float:
        """PublishLag: from effective to published."""
        return (self.published_at - self.change.effective_at).total_seconds() * 1000


@dataclass(frozen=True)
class Published:
    """What one call of `publish` did."""

    published: list[Sent]
    retry_from: str | None
    """The sequence number of the first record not published, or None: all were."""


@dataclass(frozen=True)
class StreamPublisher:
    bus: EventBus
    bus_name: str
    fingerprint: AddressFingerprint
    clock: Clock

    def publish(self, records: Sequence[StreamRecord]) -> Published:
        published: list[Sent] = []
        pending: list[tuple[str, Change]] = []
        for record in records:
            try:
                change = change_of(record, self.fingerprint)
            except (KeyError, ValueError, TypeError):
                # A record that cannot be read stops the shard here: retried, then set
                # aside in the dead-letter queue, never skipped silently.
                failed = self._send(pending, published)
                return Published(published, failed or record.position)
            if change is not None:
                pending.append((record.position, change))
            if len(pending) == PUT_EVENTS_ENTRIES:
                failed = self._send(pending, published)
                if failed is not None:
                    return Published(published, failed)
                pending = []
        return Published(published, self._send(pending, published))

    def _send(self, batch: list[tuple[str, Change]], published: list[Sent]) -> str | None:
        """Publish `batch`; the position of its first entry not published, if any."""
        if not batch:
            return None
        now = self.clock()
        details = [change.published(now) for _, change in batch]
        try:
            response = self.bus.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": change.detail_type.value,
                        "Detail": _json(detail),
                        "EventBusName": self.bus_name,
                        "Time": now,
                    }
                    for (_, change), detail in zip(batch, details, strict=True)
                ]
            )
        except Exception:
            return batch[0][0]
        for (position, change), detail, entry in zip(
            batch, details, _entries(response, len(batch)), strict=True
        ):
            if "ErrorCode" in entry or "EventId" not in entry:
                return position
            published.append(Sent(change, detail, now))
        return None


def _entries(response: Mapping[str, Any], count: int) -> Iterator[Mapping[str, Any]]:
    entries = list(response.get("Entries", []))
    yield from entries
    yield from ({} for _ in range(count - len(entries)))


def _json(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, separators=(",", ":"), sort_keys=True)
