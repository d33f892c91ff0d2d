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
    """By recipient domain (the mailbox provider)."""
    SENDING_FEEDBACK = "sending-feedback"
    """By sending domain (what providers rate a sender by), where SES names the source."""
    ANALYSES = "analyses"
    """Delivery analyses finished, by how they ended."""


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


def delivery_tally(address: str, at: datetime, key: str, sender_domain: object) -> Tally:
    """What one e-mail delivery adds: one to its recipient domain's deliveries of the day,
    and to its sending domain's when known. `key` names the delivery (the feedback's
    idempotency key), so a redelivered notification counts once."""
    day = at.astimezone(UTC).date()
    return Tally(
        marker("delivery", key),
        feedback_cells(Feedback.DELIVERY, day, domain_of(address), sender_domain),
    )


def analysis_tally(delivery_id: str, execution_arn: str, at: datetime, status: str) -> Tally:
    """What one analysis that ended adds: one to the analyses of the day that ended
    `status` (`succeeded`, `failed`). A run is its execution: a step retried counts
    once, a delivery analyzed again by a new execution counts again."""
    return Tally(
        marker("analysis", delivery_id, execution_arn, status),
        (Cell(Series.ANALYSES, at.astimezone(UTC).date(), (status,)),),
    )


def feedback_cells(
    feedback: Feedback, day: date, recipient_domain: str, sender_domain: object
) -> tuple[Cell, ...]:
    """A piece of e-mail feedback's cells: by recipient domain, and by sending domain
    when it is one (anything else there is left out, not fatal)."""
    cells = [Cell(Series.EMAIL_FEEDBACK, day, (feedback, recipient_domain))]
    if isinstance(sender_domain, str) and sender_domain and SEPARATOR not in sender_domain:
        cells.append(Cell(Series.SENDING_FEEDBACK, day, (feedback, sender_domain.lower())))
    return tuple(cells)


def domain_of(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or SEPARATOR in domain:
        raise UnreadableRecordError("an e-mail address without a domain")
    return domain.lower()


def marker(*parts: str) -> str:
    """A marker id that holds nothing readable of the change (an address key is personal)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
