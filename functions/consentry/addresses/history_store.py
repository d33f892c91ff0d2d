"""Data access for the history of addresses: the only module that maps the address-events
table, and the one write path of an address.

An address is written with its event, in one transaction: the event conditioned on
its id not existing (event ids are deterministic, so the event is its change's
idempotency record: a redelivered notification or a retried decision finds it and
writes nothing), the address conditioned on the version it was read at (a concurrent
writer makes the attempt a `LostRace`, run again on fresh state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from pynamodb.attributes import MapAttribute
from pynamodb.transactions import TransactWrite

from consentry.addresses import address_store
from consentry.addresses.events import (
    FEEDBACK_ACTOR,
    AddressEvent,
    EventKind,
    change_id,
    event_id,
    lift_key,
)
from consentry.addresses.status import AddressState, address_key
from consentry.addresses.tables import AddressEventModel
from consentry.core.pagination import Page, decode_cursor, encode_cursor
from consentry.core.persistence import LostRace, dynamodb, transactions
from consentry.core.types import Address, Channel

TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""


def record(current: AddressState, updated: AddressState, event: AddressEvent) -> bool:
    """Write `event`, and the address when `updated` differs from `current`, at once.

    False when the event already exists (a repeat: nothing is written). LostRace when
    the address changed since `current` was read.
    """
    changed = updated != current
    version = current.version + 1 if changed else current.version
    # `previous_status` beside `status` lets the address-events stream tell a status
    # change (published as an event) from feedback that left the status as it was.
    detail = {
        **event.detail,
        "status": updated.status.value,
        "previous_status": current.status.value,
        "version": version,
    }
    item = to_event_item(replace(event, detail=detail))
    if not changed and current.version == 0:
        return _put_new_event(item)
    try:
        with dynamodb(), TransactWrite(connection=transactions()) as tx:
            tx.save(item, condition=AddressEventModel.event_id.does_not_exist())
            address_store.guard(tx, current, updated if changed else None)
    except LostRace:
        if find_event(event.channel, event.address, event.event_id) is not None:
            return False
        raise
    return True


def add_held(current: AddressState, event: AddressEvent) -> bool:
    """Write an event that changes nothing, whatever the address's state (a held error);
    False when it already exists."""
    detail = {**event.detail, "status": current.status.value, "version": current.version}
    return _put_new_event(to_event_item(replace(event, detail=detail)))


def find_event(channel: Channel, address: Address, event_id: str) -> AddressEvent | None:
    with dynamodb():
        try:
            item = AddressEventModel.get(
                address_key(channel, address), event_id, consistent_read=True
            )
        except AddressEventModel.DoesNotExist:
            return None
    return to_event(item)


def update_event_detail(event: AddressEvent, detail: dict[str, Any]) -> AddressEvent:
    """Merge `detail` into a stored event's detail (for example: the reply went out)."""
    merged = {**event.detail, **detail}
    with dynamodb():
        _event_key_item(event).update(actions=[AddressEventModel.detail.set(_plain(merged))])
    return replace(event, detail=merged)


def history_of(
    channel: Channel, address: Address, *, limit: int, cursor: str | None, newest_first: bool = True
) -> Page[AddressEvent]:
    key = address_key(channel, address)
    with dynamodb():
        result = AddressEventModel.query(
            key,
            scan_index_forward=not newest_first,
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor, {"address_key": "S", "event_id": "S"}, {"address_key": key}
            ),
            consistent_read=True,
        )
        items = [to_event(item) for item in result]
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def events_since(channel: Channel, address: Address, since: datetime) -> list[AddressEvent]:
    """The address's events from `since` on, oldest first."""
    with dynamodb():
        result = AddressEventModel.query(
            address_key(channel, address),
            range_key_condition=AddressEventModel.event_id >= since.isoformat(),
            consistent_read=True,
        )
        return [to_event(item) for item in result]


def held_events(key: str, *, limit: int, cursor: str | None = None) -> Page[AddressEvent]:
    """One page of the feedback held for `key` (`<channel>#<domain>`), oldest first."""
    with dynamodb():
        result = AddressEventModel.held_index.query(
            key,
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor,
                {"held_domain": "S", "event_id": "S", "address_key": "S"},
                {"held_domain": key},
            ),
        )
        items = [to_event(item) for item in result]
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def count_held(key: str) -> int:
    with dynamodb():
        return int(AddressEventModel.held_index.count(key))


def decide_held(
    event: AddressEvent,
    current: AddressState,
    updated: AddressState,
    detail: dict[str, Any],
) -> bool:
    """Take `event` out of the held index with the operator's decision in its detail, and
    write the address when the decision changed it. False when the event was decided
    already (nothing is written); LostRace when the address changed meanwhile."""
    changed = updated != current
    merged = {
        **event.detail,
        **detail,
        "status": updated.status.value,
        "previous_status": current.status.value,
    }
    if changed:
        merged["version"] = current.version + 1
    try:
        with dynamodb(), TransactWrite(connection=transactions()) as tx:
            tx.update(
                _event_key_item(event),
                actions=[
                    AddressEventModel.held_domain.remove(),
                    AddressEventModel.detail.set(_plain(merged)),
                ],
                condition=AddressEventModel.held_domain.exists(),
            )
            address_store.guard(tx, current, updated if changed else None)
    except LostRace:
        stored = find_event(event.channel, event.address, event.event_id)
        if stored is None or not stored.held:
            return False
        raise
    return True


def hold_retroactively(
    current: AddressState,
    restored: AddressState,
    events: list[AddressEvent],
    key: str,
    at: datetime,
    *,
    still_holding: Callable[[TransactWrite], None],
) -> bool:
    """Put feedback that was applied back on hold: the address returns to `restored`
    (the state before that feedback), each event joins the held index under `key`, and
    an `outage_hold` event records the change (published when the status changed).
    `still_holding` adds to the transaction its check that the hold's pass is still
    the caller's (`domain_windows.check_pass`). False when there are more events than
    one transaction holds; LostRace when the address or its events changed since they
    were read, or the pass is no longer the caller's."""
    if len(events) + 3 > TRANSACTION_ITEMS:
        return False
    hold = AddressEvent(
        channel=current.channel,
        address=current.address,
        event_id=change_id(at, EventKind.OUTAGE_HOLD, current),
        at=at,
        kind=EventKind.OUTAGE_HOLD,
        actor=FEEDBACK_ACTOR,
        detail={
            "held_domain": key,
            "held_events": len(events),
            "status": restored.status.value,
            "previous_status": current.status.value,
            "version": current.version + 1,
        },
    )
    with dynamodb(), TransactWrite(connection=transactions()) as tx:
        still_holding(tx)
        address_store.guard(tx, current, restored)
        for event in events:
            tx.update(
                _event_key_item(event),
                actions=[
                    AddressEventModel.held_domain.set(key),
                    AddressEventModel.detail.set(
                        _plain({**event.detail, "held": "retroactive", "held_at": at})
                    ),
                ],
                condition=AddressEventModel.held_domain.does_not_exist(),
            )
        add_new_event(tx, to_event_item(hold))
    return True


def to_event(item: AddressEventModel) -> AddressEvent:
    channel, _, address = item.address_key.partition("#")
    return AddressEvent(
        channel=Channel(channel),
        address=Address(address),
        event_id=item.event_id,
        at=item.at,
        kind=item.kind,
        error_type=item.error_type,
        reason=item.reason,
        message_id=item.message_id,
        actor=item.actor,
        detail=_unwrap(item.detail) if item.detail is not None else {},
        held_domain=item.held_domain,
    )


def to_event_item(event: AddressEvent) -> AddressEventModel:
    return AddressEventModel(
        address_key(event.channel, event.address),
        event.event_id,
        at=event.at,
        kind=event.kind,
        error_type=event.error_type,
        reason=event.reason,
        message_id=event.message_id,
        actor=event.actor,
        detail=_plain(event.detail) or None,
        held_domain=event.held_domain,
    )


def lift_event_item(
    channel: Channel,
    fingerprint: str,
    *,
    at: datetime,
    actor: str,
    reason: str,
    cause: str,
    masked: str,
) -> AddressEventModel:
    """The event of an operator's lift of an erased address, to write in the lift's
    transaction. It is keyed by the fingerprint and holds only the masked address; the
    stream publishes it as the address going from `erased` to `valid`."""
    return AddressEventModel(
        lift_key(channel, fingerprint),
        event_id(at, EventKind.LIFT.value),
        at=at,
        kind=EventKind.LIFT.value,
        reason=reason,
        actor=actor,
        detail={
            "status": "valid",
            "previous_status": "erased",
            "version": 1,
            "cause": cause,
            "masked": masked,
        },
    )


def add_new_event(tx: TransactWrite, item: AddressEventModel) -> None:
    """Add `item` to a transaction, conditioned on its id not existing."""
    tx.save(item, condition=AddressEventModel.event_id.does_not_exist())


def _event_key_item(event: AddressEvent) -> AddressEventModel:
    return AddressEventModel(address_key(event.channel, event.address), event.event_id)


def _put_new_event(item: AddressEventModel) -> bool:
    try:
        with dynamodb():
            item.save(condition=AddressEventModel.event_id.does_not_exist())
    except LostRace:
        return False
    return True


def _unwrap(value: Any) -> Any:
    """A stored map as plain dicts (nested maps come back as MapAttribute)."""
    if isinstance(value, MapAttribute):
        return {name: _unwrap(inner) for name, inner in value.attribute_values.items()}
    return value


def _plain(detail: dict[str, Any]) -> dict[str, Any]:
    """A detail map as DynamoDB stores it: no None values, datetimes as ISO text."""
    plain: dict[str, Any] = {}
    for name, value in detail.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            plain[name] = value.isoformat()
        elif isinstance(value, dict):
            plain[name] = _plain(value)
        else:
            plain[name] = value
    return plain


def forget(channel: Channel, address: Address) -> int:
    """Delete the address's whole history (an erasure). How many events it held."""
    with dynamodb():
        keys = [
            AddressEventModel(item.address_key, item.event_id)
            for item in AddressEventModel.query(address_key(channel, address), consistent_read=True)
        ]
        with AddressEventModel.batch_write() as batch:
            for key in keys:
                batch.delete(key)
    return len(keys)
