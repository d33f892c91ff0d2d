"""The history of an address: one event per piece of feedback, keyword or decision.

Feedback events have deterministic ids (the feedback's time, then a hash of message
id, kind and recipient), which makes them their own idempotency record: writing one
is conditioned on its id not existing, in the same transaction as the address
change it explains, so a redelivered notification finds its event and changes
nothing. Events sort by id, which starts with the ISO time in UTC.

An event the outage guard held carries `held_domain` (`<channel>#<domain>`, the key
of the sparse `held-by-domain` index) until an operator releases or applies it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from consentry.addresses.status import AddressState
from consentry.core.types import Address, Channel


class EventKind(StrEnum):
    """Every kind of event an address's history holds."""

    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    DELIVERY = "delivery"
    SMS_KEYWORD = "sms_keyword"
    OPERATOR = "operator"
    """An operator's status decision (PUT /v1/addresses/...)."""
    IMPORT = "import"
    """A status decision of a bulk import."""
    RELEASE = "release"
    """An operator's release of delivery errors (bulk release)."""
    SCHEDULED = "scheduled"
    """A reset or release that fell due under the counting rules (the daily job)."""
    OPT_OUT = "opt_out"
    """The owner's opt-out denylisted the address (the owner-opt-out policy)."""
    OPT_IN = "opt_in"
    """The owner's opt-in lifted what their own opt-out denylisted."""
    OUTAGE_HOLD = "outage_hold"
    """The outage guard put feedback that was applied back on hold: the address returned
    to its state before that feedback."""
    LIFT = "lift"
    """An operator lifted what an erased address still stopped. Its history is kept
    under the address's fingerprint (`lift_key`), never under the address."""


FEEDBACK_ACTOR = "feedback"
SCHEDULE_ACTOR = "schedule"
DECIDED_AT = "decided_at"
"""The detail field of held feedback saying when an operator decided on it."""
PROCESSED_AT = "processed_at"
"""The detail field of feedback saying when it was processed, which may be long after
it happened (`at`): a queue's backlog, a redrive from the dead-letter queue."""


class Decision(StrEnum):
    """What an operator did with errors the outage guard held."""

    RELEASED = "released"
    APPLIED = "applied"


@dataclass(frozen=True, kw_only=True)
class AddressEvent:
    """One event of an address's history (the address-events table's item)."""

    channel: Channel
    address: Address
    event_id: str
    at: datetime
    kind: str
    error_type: str | None = None
    reason: str | None = None
    message_id: str | None = None
    actor: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    held_domain: str | None = None

    @property
    def held(self) -> bool:
        return self.held_domain is not None

    @property
    def effective_at(self) -> datetime:
        """When the event took effect on the address: an operator's decision on held
        feedback when it was made, feedback when it was processed, others (operators',
        schedules') at their own time, as they are recorded when they happen."""
        for name in (DECIDED_AT, PROCESSED_AT):
            value = self.detail.get(name)
            if isinstance(value, str):
                return datetime.fromisoformat(value)
            if isinstance(value, datetime):
                return value
        return self.at

    @property
    def key(self) -> str:
        """The key its id was made with (`event_id`): for feedback, the feedback's key."""
        return self.event_id.rpartition("#")[2]


def event_id(at: datetime, key: str) -> str:
    """The id of an event at `at` whose `key` makes it unique (and a repeat recognisable)."""
    return f"{at.isoformat()}#{key}"


def change_id(at: datetime, kind: str, state: AddressState) -> str:
    """The id of the event of a change made to `state` as read: the same change of the
    same version has the same id, so a retried write finds it written."""
    return event_id(at, event_key(kind, str(state.version), state.address))


def event_key(kind: str, message_id: str, address: str) -> str:
    """A short hash naming one piece of feedback (or one change) of one address."""
    digest = hashlib.sha256(f"{kind}\n{message_id}\n{address}".encode()).hexdigest()
    return digest[:24]


def lift_key(channel: Channel, fingerprint: str) -> str:
    """The history key of an erased address's lifts: its fingerprint, not the address."""
    return f"{channel.value}#{fingerprint}"


def held_key(channel: Channel, domain: str) -> str:
    """The `held-by-domain` key, also the key of the domain's outage-window counters."""
    return f"{channel.value}#{domain}"


def split_held_key(key: str) -> tuple[Channel, str]:
    channel, _, domain = key.partition("#")
    return Channel(channel), domain
