"""Data access for consent: the only module that reads and writes profiles and their events.

A change is one TransactWriteItems: the profile item, conditioned on the version it
was read at, and the new event, conditioned on not existing. A concurrent writer makes
the condition fail; the change is then re-applied to fresh state, or refused when the
caller named the version it expected.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from consentry.addresses import address_store, history_store
from consentry.addresses.events import AddressEvent, EventKind, change_id
from consentry.addresses.status import AddressState, owner_origin, with_origin, without_origins
from consentry.consent import service_store
from consentry.consent.rules import (
    GENESIS_HASH,
    PERSONAL_FIELDS,
    ConsentChange,
    ConsentEvent,
    ConsentState,
    advance,
    chain,
    next_event,
)
from consentry.consent.subscriptions import (
    Subscription,
    SubscriptionStatus,
    confirm,
    subscribe,
    unsubscribe,
)
from consentry.consent.tables import OPTED_OUT_BUCKETS, ConsentEventModel, ProfileModel
from consentry.core.changed import changed_day
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import (
    GoneError,
    InvalidInputError,
    NotFoundError,
    StaleVersionError,
)
from consentry.core.pagination import Page, decode_cursor, encode_cursor
from consentry.core.persistence import dynamodb, optimistically, transactions
from consentry.core.types import (
    MAX_PAGE,
    Action,
    Address,
    Channel,
    ProfileId,
    ScopeKind,
    ServiceId,
    Source,
)

OWNER_SOURCES = frozenset({Source.LANDING, Source.ONE_CLICK, Source.SMS_KEYWORD})
"""Changes that come from the address's own owner (the two-profiles gap, domain.md 1)."""


@dataclass(frozen=True)
class ChangeResult:
    state: ConsentState
    events: tuple[ConsentEvent, ...]
    """Empty when the change had nothing to change (a repeat)."""
    subscription: Subscription | None = None
    addresses: tuple[AddressState, ...] = ()
    """Addresses whose denylist entries the change added or lifted."""

    @property
    def event(self) -> ConsentEvent | None:
        """The newest event the change wrote."""
        return self.events[-1] if self.events else None


@dataclass(frozen=True)
class _Plan:
    old: ConsentState
    result: ChangeResult
    old_subscription: Subscription | None
    old_addresses: dict[tuple[Channel, Address], AddressState]


def find_consent(profile_id: ProfileId) -> ConsentState | None:
    with dynamodb():
        try:
            item = ProfileModel.get(profile_id, consistent_read=True)
        except ProfileModel.DoesNotExist:
            return None
    return _to_state(item)


def get_consent(profile_id: ProfileId) -> ConsentState:
    """The profile's consent; NotFoundError for one never written, GoneError (with what
    was erased) for one erased."""
    state = find_consent(profile_id)
    if state is None:
        raise NotFoundError("profile", profile_id)
    _refuse_erased(state)
    return state


def _refuse_erased(state: ConsentState) -> None:
    if state.erased_at is not None:
        raise GoneError("profile", state.profile_id, erasure_of(state.profile_id))


def erasure_of(profile_id: ProfileId) -> dict[str, Any] | None:
    """What the erasure of the profile recorded (None when it was never erased)."""
    with dynamodb():
        try:
            item = ProfileModel.get(profile_id, consistent_read=True)
        except ProfileModel.DoesNotExist:
            return None
    if item.erasure is None:
        return None
    return {k: _plain(v) for k, v in item.erasure.attribute_values.items()}


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float | Decimal) and value == int(value) else value


def find_consents(profile_ids: set[ProfileId]) -> dict[ProfileId, ConsentState]:
    """The stored consent of each profile that has one (BatchGetItem)."""
    with dynamodb():
        items = list(ProfileModel.batch_get(profile_ids))
    return {ProfileId(item.profile_id): _to_state(item) for item in items}


def latest_events(profile_id: ProfileId, limit: int) -> list[ConsentEvent]:
    """The profile's newest events, newest first."""
    return history(profile_id, limit=limit, cursor=None, newest_first=True).items


def history(
    profile_id: ProfileId, *, limit: int, cursor: str | None, newest_first: bool = False
) -> Page[ConsentEvent]:
    with dynamodb():
        result = ConsentEventModel.query(
            profile_id,
            scan_index_forward=not newest_first,
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor, {"profile_id": "S", "seq": "N"}, {"profile_id": profile_id}
            ),
            consistent_read=True,
        )
        items = [_to_event(item) for item in result]
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def all_events(profile_id: ProfileId) -> list[ConsentEvent]:
    """The whole history, oldest first (verification, export, rebuilding)."""
    events: list[ConsentEvent] = []
    cursor: str | None = None
    while True:
        page = history(profile_id, limit=MAX_PAGE, cursor=cursor)
        events.extend(page.items)
        if page.cursor is None:
            return events
        cursor = page.cursor


def record_change(
    profile_id: ProfileId,
    change: ConsentChange,
    *,
    clock: Clock = utc_now,
    expected_version: int | None = None,
    owner_denylists: bool = False,
) -> ChangeResult:
    """Apply one change; see `record_changes`."""
    return record_changes(
        profile_id,
        [change],
        clock=clock,
        expected_version=expected_version,
        owner_denylists=owner_denylists,
    )


def record_changes(
    profile_id: ProfileId,
    changes: list[ConsentChange],
    *,
    clock: Clock = utc_now,
    expected_version: int | None = None,
    owner_denylists: bool = False,
) -> ChangeResult:
    """Apply `changes` in order and append one event for each that changes something,
    all in one transaction.

    A service-scoped change (alone in its list) writes the subscription in the same
    transaction. With
    `owner_denylists`, an opt-out from the owner also denylists the profile's addresses
    on the channels it covers (origin `owner:<profile>`), and the owner's later opt-in
    lifts exactly those entries.

    Without `expected_version` a lost race is retried on fresh state; with it, a
    stored version other than the expected one raises StaleVersionError.
    """

    def attempt() -> ChangeResult:
        state = find_consent(profile_id) or ConsentState(profile_id=profile_id)
        _refuse_erased(state)
        if expected_version is not None and state.version != expected_version:
            raise StaleVersionError(expected_version, state.version)
        plan = _plan(state, changes, clock(), owner_denylists=owner_denylists)
        if plan is None:
            return ChangeResult(state=state, events=())
        _write(plan)
        return plan.result

    return optimistically(attempt, f"profile {profile_id!r}")


def _plan(
    state: ConsentState, changes: list[ConsentChange], at: datetime, *, owner_denylists: bool
) -> _Plan | None:
    if any(change.scope.kind is ScopeKind.SERVICE for change in changes):
        if len(changes) != 1:
            raise InvalidInputError("scope", "a service change is made on its own")
        return _plan_subscription(state, changes[0], at)
    current, events = state, []
    old_addresses: dict[tuple[Channel, Address], AddressState] = {}
    new_addresses: dict[tuple[Channel, Address], AddressState] = {}
    for change in changes:
        step = advance(current, change, at)
        if step is None:
            continue
        current, event = step
        events.append(event)
        if owner_denylists and change.source in OWNER_SOURCES:
            for old, new in _owner_denylist(current, change, at, new_addresses):
                old_addresses.setdefault((old.channel, old.address), old)
                new_addresses[(new.channel, new.address)] = new
    if not events:
        return None
    final = replace(current, version=state.version + 1)
    return _Plan(
        old=state,
        result=ChangeResult(
            state=final, events=tuple(events), addresses=tuple(new_addresses.values())
        ),
        old_subscription=None,
        old_addresses=old_addresses,
    )


def _plan_subscription(state: ConsentState, change: ConsentChange, at: datetime) -> _Plan | None:
    service_id = ServiceId(str(change.scope.value))
    service = service_store.get_service(service_id)
    current = service_store.find_subscription(service_id, state.profile_id)
    updated: Subscription | None
    if change.action is Action.SUBSCRIBE:
        requested = change.requested or SubscriptionStatus.SUBSCRIBED
        updated = subscribe(service, state.profile_id, current, requested, at)
    elif change.action is Action.CONFIRM:
        updated = confirm(service, state.profile_id, current, at)
    elif change.action is Action.UNSUBSCRIBE:
        updated = unsubscribe(current, at)
    else:
        raise InvalidInputError("action", f"{change.action.value} does not apply to a service")
    if updated is None or updated == current:
        return None
    new_state, event = chain(state, next_event(state, change, at, updated))
    return _Plan(
        old=state,
        result=ChangeResult(state=new_state, events=(event,), subscription=updated),
        old_subscription=current,
        old_addresses={},
    )


def _owner_denylist(
    state: ConsentState,
    change: ConsentChange,
    at: datetime,
    pending: dict[tuple[Channel, Address], AddressState],
) -> list[tuple[AddressState, AddressState]]:
    """(before, after) of each of the profile's addresses that the owner's change touches."""
    channels = (
        set(Channel) if change.scope.kind is ScopeKind.ALL else {Channel(str(change.scope.value))}
    )
    targets = [
        (channel, Address(address))
        for channel, address in state.addresses.items()
        if channel in channels
    ]
    unread = [key for key in targets if key not in pending]
    stored = address_store.find_addresses(unread) if unread else {}
    origin = owner_origin(state.profile_id)
    touched = []
    for key in targets:
        current = (
            pending.get(key) or stored.get(key) or AddressState(channel=key[0], address=key[1])
        )
        updated = (
            with_origin(current, origin, at)
            if change.action is Action.OPT_OUT
            else without_origins(current, frozenset({origin}), at)
        )
        if updated != current:
            touched.append((current, updated))
    return touched


def _write(plan: _Plan) -> None:
    """The change in one transaction: the profile, its events, and the subscription or
    the owner's address entries it changed (LostRace when any of them moved on)."""
    result = plan.result
    event = result.events[-1]
    with (
        dynamodb(),
        TransactWrite(connection=transactions(), client_request_token=event.hash[:36]) as tx,
    ):
        tx.save(_to_profile_item(result.state), condition=_unchanged_since(plan.old))
        for each in result.events:
            tx.save(_to_event_item(each), condition=ConsentEventModel.seq.does_not_exist())
        if result.subscription is not None:
            tx.save(
                service_store.to_subscription_item(result.subscription),
                condition=service_store.unchanged_since(plan.old_subscription),
            )
        for address in result.addresses:
            old = plan.old_addresses[(address.channel, address.address)]
            address_store.guard(tx, old, address)
            tx.save(history_store.to_event_item(_owner_event(old, address, event)))


def _owner_event(old: AddressState, new: AddressState, event: ConsentEvent) -> AddressEvent:
    """The address's record of what the owner's consent change did to it."""
    kind = EventKind(event.action.value)
    return AddressEvent(
        channel=new.channel,
        address=new.address,
        event_id=change_id(event.at, kind, old),
        at=event.at,
        kind=kind,
        reason=event.reason,
        actor=event.actor,
        detail={
            "origin": owner_origin(event.profile_id),
            "source": event.source.value,
            "status": new.status.value,
            "version": old.version + 1,
        },
    )


def _unchanged_since(state: ConsentState) -> Condition:
    """The write condition of optimistic locking: the item is as `state` was read."""
    if state.version == 0:
        return ProfileModel.profile_id.does_not_exist()
    return ProfileModel.version == state.version


def _bucket(profile_id: str) -> str:
    return str(zlib.crc32(profile_id.encode()) % OPTED_OUT_BUCKETS)


def _to_state(item: ProfileModel) -> ConsentState:
    return ConsentState(
        profile_id=ProfileId(item.profile_id),
        version=int(item.version),
        head_seq=int(item.head_seq),
        opt_out_all=bool(item.opt_out_all),
        opt_out_channels=frozenset(Channel(c) for c in item.opt_out_channels or ()),
        addresses=_addresses(item),
        locale=item.locale,
        head_hash=item.head_hash or GENESIS_HASH,
        updated_at=item.updated_at,
        erased_at=item.erased_at,
    )


def _addresses(item: ProfileModel) -> dict[Channel, str]:
    if item.addresses is None:
        return {}
    return {Channel(k): str(v) for k, v in item.addresses.attribute_values.items()}


def _to_profile_item(state: ConsentState) -> ProfileModel:
    return ProfileModel(
        profile_id=state.profile_id,
        version=state.version,
        head_seq=state.head_seq,
        opt_out_all=state.opt_out_all,
        opt_out_channels={c.value for c in state.opt_out_channels} or None,
        addresses={c.value: a for c, a in state.addresses.items()} or None,
        locale=state.locale,
        head_hash=state.head_hash,
        updated_at=state.updated_at,
        opted_out_bucket=_bucket(state.profile_id) if state.opted_out else None,
        erased_at=state.erased_at,
        **_changed(state.profile_id),
    )


def _changed(key: str) -> dict[str, Any]:
    """The `changed` index keys of a write now (the real clock: an analysis reads what
    changed since its snapshot by when it was written, not by the change's own time)."""
    at = utc_now()
    return {"changed_day": changed_day(key, at), "changed_at": at}


def _to_event(item: ConsentEventModel) -> ConsentEvent:
    return ConsentEvent(
        profile_id=ProfileId(item.profile_id),
        seq=int(item.seq),
        at=item.at,
        scope=item.scope,
        action=Action(item.action),
        source=Source(item.source),
        actor=item.actor,
        reason=item.reason,
        ip=item.ip,
        user_agent=item.user_agent,
        delivery_id=item.delivery_id,
        wording_version=item.wording_version,
        result=SubscriptionStatus(item.result) if item.result else None,
        expires_at=item.expires_at,
        prev_hash=item.prev_hash,
        hash=item.hash,
        form=int(item.form or 1),
        requested_at=item.requested_at,
        ip_commitment=item.ip_commitment,
        ip_salt=item.ip_salt,
        user_agent_commitment=item.user_agent_commitment,
        user_agent_salt=item.user_agent_salt,
        erased_at=item.erased_at,
    )


def _to_event_item(event: ConsentEvent) -> ConsentEventModel:
    return ConsentEventModel(
        **{
            name: getattr(event, name)
            for name in (f.name for f in fields(event))
            if name not in {"action", "source", "result"}
        },
        action=event.action.value,
        source=event.source.value,
        result=event.result.value if event.result else None,
    )


def register_profile(
    profile_id: ProfileId,
    addresses: dict[Channel, str],
    locale: str | None,
    *,
    clock: Clock = utc_now,
) -> ConsentState:
    """Record what consent needs of a profile (its addresses, its locale); no event.

    The campaign platform stays the system of record for profiles; consent flags and
    the chain head are left as they are.
    """
    state, _ = _save_details(profile_id, lambda _: (dict(addresses), locale), clock)
    return state


def merge_profile_details(
    profile_id: ProfileId,
    addresses: Mapping[Channel, str],
    locale: str | None,
    *,
    clock: Clock = utc_now,
) -> bool:
    """Add `addresses` to the profile's (one per channel) and set `locale` when given;
    no event. True when that changed the profile."""
    _, changed = _save_details(
        profile_id,
        lambda state: ({**state.addresses, **addresses}, locale or state.locale),
        clock,
    )
    return changed


def _save_details(
    profile_id: ProfileId,
    details: Callable[[ConsentState], tuple[dict[Channel, str], str | None]],
    clock: Clock,
) -> tuple[ConsentState, bool]:
    """Write the addresses and locale `details` gives for the stored state, unless equal;
    a profile never written is written (registered) even with none."""

    def attempt() -> tuple[ConsentState, bool]:
        state = find_consent(profile_id) or ConsentState(profile_id=profile_id)
        _refuse_erased(state)
        addresses, locale = details(state)
        if state.version and addresses == state.addresses and locale == state.locale:
            return state, False
        updated = replace(
            state,
            addresses=addresses,
            locale=locale,
            version=state.version + 1,
            updated_at=clock(),
        )
        with dynamodb():
            _to_profile_item(updated).save(condition=_unchanged_since(state))
        return updated, True

    return optimistically(attempt, f"profile {profile_id!r}")


def erase_personal_fields(profile_id: ProfileId, at: datetime) -> int:
    """Remove the personal values (and their salts) from the profile's events; the
    hashes stay, so the chain still verifies. How many events held any (BatchWriteItem,
    25 a call)."""
    erased = [
        event.erased(at)
        for event in all_events(profile_id)
        if any(
            getattr(event, name) is not None or getattr(event, f"{name}_salt") is not None
            for name in PERSONAL_FIELDS
        )
    ]
    with dynamodb(), ConsentEventModel.batch_write() as batch:
        for event in erased:
            batch.save(_to_event_item(event))
    return len(erased)


def record_erasure(
    state: ConsentState, erasure: dict[str, Any], change: ConsentChange, at: datetime
) -> ConsentState:
    """The profile without its addresses and locale, marked erased with what was
    erased, and the erasure's own event (no personal data), in one transaction; LostRace
    when the profile moved on since `state` was read."""
    changed = replace(state, addresses={}, locale=None, erased_at=at)
    erased, event = chain(changed, next_event(state, change, at))
    item = _to_profile_item(erased)
    item.erasure = erasure
    with (
        dynamodb(),
        TransactWrite(connection=transactions(), client_request_token=event.hash[:36]) as tx,
    ):
        tx.save(item, condition=_unchanged_since(state))
        tx.save(_to_event_item(event), condition=ConsentEventModel.seq.does_not_exist())
    return erased
