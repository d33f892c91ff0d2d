"""Profiles, their consent, and its proof: the operations behind /v1/profiles."""

from __future__ import annotations

from typing import Any

from consent.schemas import (
    AddressOut,
    ConsentOut,
    ConsentPatch,
    EventOut,
    ExportOut,
    HistoryOut,
    ProfileIn,
    SubscriptionOut,
    VerifyOut,
)
from consentry.addresses import address_store
from consentry.addresses.normalize import normalize
from consentry.consent import profile_store, service_store
from consentry.consent.rules import GENESIS_HASH, ConsentChange, Scope, first_broken_link
from consentry.core.clock import utc_now
from consentry.core.errors import InvalidInputError
from consentry.core.settings import get_settings
from consentry.core.types import Action, Address, Channel, ProfileId, Source

LATEST_EVENTS = 10


def consent_of(profile_id: ProfileId) -> ConsentOut:
    state = profile_store.get_consent(profile_id)
    return ConsentOut.of(state, profile_store.latest_events(profile_id, LATEST_EVENTS))


def register(profile_id: ProfileId, body: ProfileIn) -> dict[str, Any]:
    region = get_settings().default_phone_region
    addresses: dict[Channel, str] = {}
    for channel, raw in body.addresses.items():
        normal = normalize(channel, raw, region)
        if normal is None:
            raise InvalidInputError(
                f"addresses.{channel.value}", f"not a valid {channel.value} address"
            )
        addresses[channel] = normal
    profile_store.register_profile(profile_id, addresses, body.locale)
    return {"status": 200, "body": _consent_json(profile_id)}


def change_consent(
    profile_id: ProfileId, patch: ConsentPatch, actor: str, version: int | None
) -> dict[str, Any]:
    """Apply the channels the patch names, in one transaction, with the patch's reason."""
    flags = patch.no_longer_contact.model_dump(by_alias=False, exclude_none=True)
    if not flags:
        raise InvalidInputError("noLongerContact", "name at least one channel or `all`")
    changes = [
        ConsentChange(
            scope=Scope.all() if name == "all" else Scope.channel(Channel(name)),
            action=Action.OPT_OUT if opted_out else Action.OPT_IN,
            source=Source(patch.source),
            actor=actor,
            reason=patch.reason,
        )
        for name, opted_out in flags.items()
    ]
    profile_store.record_changes(profile_id, changes, expected_version=version)
    return {"status": 200, "body": _consent_json(profile_id)}


def history_of(profile_id: ProfileId, limit: int, cursor: str | None) -> HistoryOut:
    profile_store.get_consent(profile_id)
    page = profile_store.history(profile_id, limit=limit, cursor=cursor)
    return HistoryOut(items=[EventOut.of(e) for e in page.items], next_cursor=page.cursor)


def verify(profile_id: ProfileId) -> VerifyOut:
    """Check the chain, and that the profile's head names the newest event."""
    state = profile_store.get_consent(profile_id)
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


def export(profile_id: ProfileId) -> ExportOut:
    state = profile_store.get_consent(profile_id)
    events = profile_store.all_events(profile_id)
    now = utc_now()
    addresses = address_store.find_addresses(
        [(channel, Address(address)) for channel, address in state.addresses.items()]
    )
    return ExportOut(
        consent=ConsentOut.of(state, list(reversed(events[-LATEST_EVENTS:]))),
        events=[EventOut.of(e) for e in events],
        subscriptions=[
            SubscriptionOut.of(s, now) for s in service_store.subscriptions_of(profile_id)
        ],
        addresses=[AddressOut.of(a) for a in addresses.values()],
    )


def _head(events: list[Any]) -> tuple[int, str]:
    return (events[-1].seq, events[-1].hash) if events else (0, GENESIS_HASH)


def _consent_json(profile_id: ProfileId) -> dict[str, Any]:
    return consent_of(profile_id).model_dump(mode="json", by_alias=True)
