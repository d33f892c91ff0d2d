"""The daily counts' vocabulary: series, cells, tallies, and what a delivery adds.

A cell is one count: a series, a day and dimensions, stored as `<day>#<dimension>...`.
A tally is what one change adds (one to each of its cells) with the marker that makes
it count once. Nothing here reads AWS or a stream record (`counting` does), so the
feedback function can count deliveries without loading what only the streams need.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

SEPARATOR = "#"


class Series(StrEnum):
    CONSENT_BY_SOURCE = "consent-by-source"
    CONSENT_BY_CHANNEL = "consent-by-channel"
    SUBSCRIPTIONS = "subscriptions"
    QUARANTINE = "quarantine"
    EMAIL_FEEDBACK = "email-feedback"


class Direction(StrEnum):
    ENTERED = "entered"
    RELEASED = "released"


class Feedback(StrEnum):
    COMPLAINT = "complaint"
    HARD_BOUNCE = "hard_bounce"
    DELIVERY = "delivery"


class UnreadableRecordError(ValueError):
    """A stream record that does not say what it should; it counts nothing."""


@dataclass(frozen=True, slots=True)
class Cell:
    series: Series
    day: date
    dimensions: tuple[str, ...]

    @property
    def key(self) -> str:
        return SEPARATOR.join((self.day.isoformat(), *self.dimensions))


@dataclass(frozen=True, slots=True)
class Tally:
    """What one change adds: one to each cell, once per `marker`."""

    marker: str
    cells: tuple[Cell, ...]


def delivery_tally(address: str, at: datetime, key: str) -> Tally:
    """What one e-mail delivery adds: one to its recipient domain's deliveries of the day.
    `key` names the delivery (the feedback's idempotency key), so a redelivered
    notification counts once."""
    return Tally(
        marker("delivery", key),
        (
            Cell(
                Series.EMAIL_FEEDBACK,
                at.astimezone(UTC).date(),
                (Feedback.DELIVERY, domain_of(address)),
            ),
        ),
    )


def domain_of(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or SEPARATOR in domain:
        raise UnreadableRecordError("an e-mail address without a domain")
    return domain.lower()


def marker(*parts: str) -> str:
    """A marker id that holds nothing readable of the change (an address key is personal)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
