"""Erase a profile's personal data and keep what it stopped (domain.md, erasure).

In order, each step safe to repeat, so that an erasure cut short is finished by the
next request for it: the suppressions are kept as fingerprints first (an opt-out is
never lost, even for a moment), then the addresses' items and histories, the pending
confirmations and the events' personal values are removed, and last the profile is
marked erased with its erasure event, in one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from consentry.addresses import address_store, history_store
from consentry.addresses.counting import released_by_time
from consentry.addresses.status import AddressState
from consentry.analysis.exclusion import ExclusionCause, address_cause
from consentry.consent import profile_store, service_store
from consentry.consent.rules import ConsentChange, ConsentState, Scope
from consentry.consent.tokens import Keyring
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import NotFoundError
from consentry.core.persistence import optimistically
from consentry.core.types import Action, Address, Channel, MessageClass, ProfileId, Source
from consentry.privacy import fingerprints
from consentry.privacy.fingerprints import ErasedSuppression


class Erasure(BaseModel):
    """What one erasure erased, and what it kept."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    profile_id: ProfileId
    erased_at: datetime
    actor: str
    reason: str
    addresses: int
    """Addresses of the profile, each removed with its item and history."""
    address_events: int
    events: int
    """Consent events whose personal values (IP address, user agent) were removed."""
    pending_subscriptions: int
    suppressions_kept: int
    """Addresses whose opt-out, denylist or quarantine is kept as a fingerprint."""


def erase_profile(
    profile_id: ProfileId,
    *,
    reason: str,
    actor: str,
    keyring: Keyring,
    clock: Clock = utc_now,
    requested_at: datetime | None = None,
) -> Erasure:
    """Erase the profile (NotFoundError when it was never written); a profile already
    erased answers with its erasure, unchanged."""

    def attempt() -> Erasure:
        state = profile_store.find_consent(profile_id)
        if state is None:
            raise NotFoundError("profile", profile_id)
        if state.erased_at is not None:
            recorded = profile_store.erasure_of(profile_id)
            return Erasure.model_validate(recorded)
        at = clock()
        keys = [(channel, Address(address)) for channel, address in state.addresses.items()]
        stored = address_store.find_addresses(keys) if keys else {}
        kept = 0
        for channel, address in keys:
            cause = kept_cause(state, channel, stored.get((channel, address)), at)
            if cause is not None:
                fingerprints.keep(keyring, address, replace(cause, erased_at=at))
                kept += 1
        address_events = sum(history_store.forget(c, a) for c, a in keys)
        address_store.forget(keys)
        erasure = Erasure(
            profile_id=profile_id,
            erased_at=at,
            actor=actor,
            reason=reason,
            addresses=len(keys),
            address_events=address_events,
            events=profile_store.erase_personal_fields(profile_id, at),
            pending_subscriptions=service_store.forget_pending(profile_id),
            suppressions_kept=kept,
        )
        change = ConsentChange(
            scope=Scope.all(),
            action=Action.ERASE,
            source=Source.OPERATOR,
            actor=actor,
            reason=reason,
            requested_at=requested_at,
        )
        profile_store.record_erasure(state, _stored(erasure), change, at)
        return erasure

    return optimistically(attempt, f"profile {profile_id!r}")


def kept_cause(
    state: ConsentState, channel: Channel, address: AddressState | None, at: datetime
) -> ErasedSuppression | None:
    """What the address stops, to keep after its erasure: its own denylist or quarantine
    first (the exclusion order; a quarantine that ended by itself by `at` stops nothing),
    else its owner's opt-out of the channel."""
    cause, reason = None, None
    if address is not None:
        cause = address_cause(address)
        if cause is ExclusionCause.ADDRESS_QUARANTINED:
            reason = address.reason
            if released_by_time(address, at):
                cause, reason = None, None
    if cause is None and state.blocks(channel, MessageClass.MARKETING):
        cause = ExclusionCause.PROFILE_OPTED_OUT
    if cause is None:
        return None
    return ErasedSuppression(
        channel=channel, cause=cause, reason=reason, erased_at=state.updated_at or utc_now()
    )


def _stored(erasure: Erasure) -> dict[str, Any]:
    return erasure.model_dump(mode="json")
