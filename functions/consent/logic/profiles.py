"""Profiles, their consent, and its proof: the operations behind /v1/profiles."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from consent.commands import Command, idempotent
from consent.schemas.addresses import AddressOut
from consent.schemas.erasure import ErasedSuppressionOut, ErasureOut, LiftErasedIn
from consent.schemas.profiles import (
    ConsentChangeOut,
    ConsentOut,
    ConsentPatch,
    EventOut,
    ExportOut,
    HistoryOut,
    ProfileIn,
    VerifyOut,
)
from consent.schemas.services import SubscriptionOut
from consentry.addresses import address_store
from consentry.addresses.counting import QuarantinePolicy, settle
from consentry.addresses.normalize import normalize
from consentry.consent import profile_store, service_store
from consentry.consent.rules import (
    GENESIS_HASH,
    ConsentChange,
    ConsentEvent,
    Scope,
    first_broken_link,
)
from consentry.consent.tokens import Keyring
from consentry.core.clock import Clock
from consentry.core.errors import InvalidInputError, NotFoundError
from consentry.core.observability import logger
from consentry.core.types import Action, Address, Channel, ProfileId, Source
from consentry.privacy import erasure, fingerprints

LATEST_EVENTS = 10


class SaveProfile(Command):
    profile_id: ProfileId
    body: ProfileIn
    default_region: str
    smtputf8: bool = False
    """`Settings.sender_smtputf8`."""


class SavedProfile(ConsentOut):
    """The profile after a save; `created` when the save made it."""

    created: bool


class ChangeConsent(Command):
    profile_id: ProfileId
    patch: ConsentPatch
    expected_version: int | None = None


def consent_of(profile_id: ProfileId) -> ConsentOut:
    state = profile_store.get_consent(profile_id)
    return ConsentOut.of(state, profile_store.latest_events(profile_id, LATEST_EVENTS))


@idempotent
def save(*, command: SaveProfile) -> SavedProfile:
    """Record a profile's addresses (normalized) and locale; no event."""
    addresses: dict[Channel, str] = {}
    for channel, raw in command.body.addresses.items():
        normal = normalize(channel, raw, command.default_region, smtputf8=command.smtputf8)
        if normal is None:
            raise InvalidInputError(
                f"addresses.{channel.value}", f"not a valid {channel.value} address"
            )
        addresses[channel] = normal
    before = profile_store.find_consent(command.profile_id)
    profile_store.register_profile(command.profile_id, addresses, command.body.locale)
    consent = consent_of(command.profile_id)
    return SavedProfile(**consent.model_dump(), created=before is None)


@idempotent
def change_consent(
    *, command: ChangeConsent, requested_at: datetime | None = None
) -> ConsentChangeOut:
    """Apply the channels the patch names, in one transaction, with the patch's reason."""
    patch = command.patch
    flags = patch.no_longer_contact.model_dump(by_alias=False, exclude_none=True)
    if not flags:
        raise InvalidInputError("noLongerContact", "name at least one channel or `all`")
    changes = [
        ConsentChange(
            scope=Scope.all() if name == "all" else Scope.channel(Channel(name)),
            action=Action.OPT_OUT if opted_out else Action.OPT_IN,
            source=Source(patch.source),
            actor=command.actor,
            reason=patch.reason,
            requested_at=requested_at,
        )
        for name, opted_out in flags.items()
    ]
    result = profile_store.record_changes(
        command.profile_id, changes, expected_version=command.expected_version
    )
    consent = consent_of(command.profile_id)  # 404 for a profile never written
    return ConsentChangeOut(**consent.model_dump(), changed=bool(result.events))


def history_of(
    profile_id: ProfileId, limit: int, cursor: str | None, *, newest_first: bool = False
) -> HistoryOut:
    """The proof of consent; it stays after an erasure (without personal values)."""
    if profile_store.find_consent(profile_id) is None:
        raise NotFoundError("profile", profile_id)
    page = profile_store.history(profile_id, limit=limit, cursor=cursor, newest_first=newest_first)
    return HistoryOut(items=[EventOut.of(e) for e in page.items], next_cursor=page.cursor)


def verify(profile_id: ProfileId) -> VerifyOut:
    """Check the chain, and that the profile's head names the newest event (an erased
    profile's too: erasure leaves every hash)."""
    state = profile_store.find_consent(profile_id)
    if state is None:
        raise NotFoundError("profile", profile_id)
    events = profile_store.all_events(profile_id)
    broken = first_broken_link(events)
    if broken is None and (state.head_seq, state.head_hash) != _head(events):
        broken = len(events) + 1
    return VerifyOut(
        profile_id=profile_id,
        events=len(events),
        valid=broken is None,
        first_broken_seq=broken,
        head_hash=state.head_hash,
    )


def export(profile_id: ProfileId, clock: Clock, policy: QuarantinePolicy) -> ExportOut:
    """Everything held about a profile; its addresses as they are now (a release that
    fell due counts at once)."""
    state = profile_store.get_consent(profile_id)
    events = profile_store.all_events(profile_id)
    now = clock()
    addresses = address_store.find_addresses(
        [(channel, Address(address)) for channel, address in state.addresses.items()]
    )
    return ExportOut(
        consent=ConsentOut.of(state, list(reversed(events[-LATEST_EVENTS:]))),
        events=[EventOut.of(e) for e in events],
        subscriptions=[
            SubscriptionOut.of(s, now) for s in service_store.subscriptions_of(profile_id)
        ],
        addresses=[AddressOut.of(settle(a, now, policy)) for a in addresses.values()],
    )


def erase(
    profile_id: ProfileId,
    reason: str,
    *,
    actor: str,
    keyring: Keyring,
    clock: Clock,
    requested_at: datetime | None,
) -> ErasureOut:
    """Erase the profile's personal data, keep its suppressions (idempotent: a profile
    already erased answers with its erasure)."""
    done = erasure.erase_profile(
        profile_id,
        reason=reason,
        actor=actor,
        keyring=keyring,
        clock=clock,
        requested_at=requested_at,
    )
    return ErasureOut.model_validate(done.model_dump())


def lift_erased(
    body: LiftErasedIn, *, default_region: str, actor: str, keyring: Keyring, clock: Clock
) -> ErasedSuppressionOut:
    """Lift the suppression an erased address still carries; recorded on the
    fingerprint with the operator and the reason (the address itself is not kept)."""
    address = normalize(body.channel, body.address, default_region)
    if address is None:
        raise InvalidInputError("address", f"not a valid {body.channel.value} address")
    lifted = fingerprints.lift(
        keyring, body.channel, address, actor=actor, reason=body.reason, at=clock()
    )
    if lifted is None:
        raise NotFoundError("erased address", body.channel.value)
    logger.info("erased address lifted", extra={"channel": body.channel.value, "actor": actor})
    return ErasedSuppressionOut.model_validate(asdict(lifted))


def _head(events: list[ConsentEvent]) -> tuple[int, str]:
    return (events[-1].seq, events[-1].hash) if events else (0, GENESIS_HASH)
