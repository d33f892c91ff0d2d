"""The shapes of erasure: what an erasure erased (the body of every 410 as well), and the
suppressions it keeps for erased addresses."""

from __future__ import annotations

from datetime import datetime

from consent.commands import ApiModel
from consent.schemas.fields import RawAddress, Reason
from consentry.core.types import Channel


class ErasureIn(ApiModel):
    """Why the profile is erased (the person's request, its reference)."""

    reason: Reason


class ErasureOut(ApiModel):
    """What an erasure erased, when and by whom; the same on every later request."""

    profile_id: str
    erased_at: datetime
    actor: str
    reason: str
    addresses: int
    """Addresses removed, each with its quarantine item and history."""
    address_events: int
    events: int
    """Consent events whose IP address and user agent were removed (the chain holds)."""
    pending_subscriptions: int
    suppressions_kept: int
    """Addresses whose opt-out, denylist or quarantine is kept as a keyed fingerprint."""


class LiftErasedIn(ApiModel):
    """An erased address whose kept suppression an operator lifts, and why."""

    channel: Channel
    address: RawAddress
    reason: Reason


class ErasedSuppressionOut(ApiModel):
    channel: Channel
    cause: str
    reason: str | None
    erased_at: datetime
