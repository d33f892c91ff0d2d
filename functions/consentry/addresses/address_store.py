"""Data access for addresses: the only module that maps the addresses and address-events tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from pynamodb.attributes import MapAttribute
from pynamodb.exceptions import GetError, PutError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from consentry.addresses.events import AddressEvent
from consentry.addresses.status import (
    OPERATOR_ORIGIN,
    AddressState,
    AddressStatus,
    address_domain,
    address_key,
    set_by_operator,
)
from consentry.addresses.tables import AddressEventModel, AddressModel
from consentry.core.clock import Clock, utc_now
from consentry.core.errors import ConflictError, StoreUnavailableError
from consentry.core.pagination import Page, decode_cursor, encode_cursor
from consentry.core.persistence import transactions
from consentry.core.types import Address, Channel

MAX_ATTEMPTS = 5


def find_address(channel: Channel, address: Address) -> AddressState | None:
    try:
        item = AddressModel.get(address_key(channel, address), consistent_read=True)
    except AddressModel.DoesNotExist:
        return None
    except GetError as error:
        raise StoreUnavailableError(str(error)) from error
    return to_state(item)


def find_addresses(
    keys: Iterable[tuple[Channel, Address]], *, consistent: bool = True
) -> dict[tuple[Channel, Address], AddressState]:
    """The stored state of each address that has one (BatchGetItem, 100 keys a call)."""
    wanted = {address_key(c, a) for c, a in keys}
    try:
        items = AddressModel.batch_get(wanted, consistent_read=consistent)
        found = [to_state(item) for item in items]
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return {(state.channel, state.address): state for state in found}


def put_address_status(
    channel: Channel,
    address: Address,
    status: AddressStatus,
    reason: str | None,
    *,
    actor: str = "operator",
    origin: str = OPERATOR_ORIGIN,
    clock: Clock = utc_now,
) -> AddressState | None:
    """An operator's (or an import's) explicit decision on an address, with its history.

    `origin` (operator or import) names who denylisted it, and is the event's kind.
    None when the address already is as decided: nothing is written, so a repeated
    decision (a re-run import) adds no event.
    """
    for _ in range(MAX_ATTEMPTS):
        current = find_address(channel, address) or AddressState(channel=channel, address=address)
        now = clock()
        updated = set_by_operator(current, status, reason or "", now, origin=origin)
        if updated.model_copy(update={"updated_at": current.updated_at}) == current:
            return None
        try:
            write_with_event(current, updated, kind=origin, reason=reason, actor=actor, detail={})
        except ConflictError:
            continue
        return updated.model_copy(update={"version": current.version + 1})
    raise ConflictError(f"address kept changing; {MAX_ATTEMPTS} attempts lost")


def write_with_event(
    current: AddressState,
    updated: AddressState,
    *,
    kind: str,
    reason: str | None,
    actor: str,
    detail: dict[str, Any],
) -> None:
    """Save an address outside a wider transaction: the item, then its history event."""
    item = to_item(updated, version=current.version + 1)
    try:
        item.save(condition=unchanged_since(current))
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise ConflictError("address changed while it was being written") from error
        raise StoreUnavailableError(str(error)) from error
    try:
        event_item(updated, kind=kind, reason=reason, actor=actor, detail=detail).save()
    except PutError as error:
        raise StoreUnavailableError(str(error)) from error


def unchanged_since(state: AddressState) -> Any:
    if state.version == 0:
        return AddressModel.address_key.does_not_exist()
    return AddressModel.version == state.version


def to_state(item: AddressModel) -> AddressState:
    return AddressState(
        channel=Channel(item.channel),
        address=Address(item.address),
        error_status=AddressStatus(item.error_status),
        reason=item.reason,
        error_count=int(item.error_count),
        last_counted_error_at=item.last_counted_error_at,
        release_at=item.release_at,
        denylist_origins=frozenset(item.denylist_origins or ()),
        allowlisted=bool(item.allowlisted),
        version=int(item.version),
        updated_at=item.updated_at,
    )


def to_item(state: AddressState, *, version: int) -> AddressModel:
    status = state.status
    indexed = status is not AddressStatus.VALID
    return AddressModel(
        address_key(state.channel, state.address),
        channel=state.channel.value,
        address=state.address,
        status=status.value,
        error_status=state.error_status.value,
        reason=state.reason,
        error_count=state.error_count,
        last_counted_error_at=state.last_counted_error_at,
        release_at=state.release_at,
        denylist_origins=set(state.denylist_origins) or None,
        allowlisted=state.allowlisted,
        updated_at=state.updated_at,
        version=version,
        status_key=f"{state.channel.value}#{status.value}" if indexed else None,
        domain_key=f"{address_domain(state.channel, state.address)}#{state.address}"
        if indexed
        else None,
    )


def event_item(
    state: AddressState,
    *,
    kind: str,
    reason: str | None,
    actor: str,
    detail: dict[str, Any],
    at: datetime | None = None,
) -> AddressEventModel:
    when = at or state.updated_at or utc_now()
    return AddressEventModel(
        address_key(state.channel, state.address),
        f"{when.isoformat()}#{uuid4().hex[:12]}",
        at=when,
        kind=kind,
        reason=reason,
        actor=actor,
        detail={**detail, "status": state.status.value},
    )


# ---------------------------------------------------------------- feedback, history, held errors
# Feedback events are written in one transaction with the address change they explain,
# conditioned on their id not existing: the event is the notification's idempotency
# record (consentry.addresses.events).

TRANSACTION_ITEMS = 100
"""DynamoDB's limit on the items of one TransactWriteItems."""


def record_event(current: AddressState, updated: AddressState, event: AddressEvent) -> bool:
    """Write `event`, and the address when `updated` differs from `current`, at once.

    False when the event already exists (a redelivery: nothing is written). Raises
    ConflictError when the address changed since `current` was read.
    """
    changed = updated != current
    version = current.version + 1 if changed else current.version
    item = to_event_item(
        event.model_copy(
            update={"detail": {**event.detail, "status": updated.status.value, "version": version}}
        )
    )
    if not changed and current.version == 0:
        return _put_new_event(item)
    try:
        with TransactWrite(connection=transactions()) as tx:
            tx.save(item, condition=AddressEventModel.event_id.does_not_exist())
            _guard_address(tx, current, updated if changed else None)
    except TransactWriteError as error:
        _raise_unless_condition_failed(error)
        if find_event(event.channel, event.address, event.event_id) is not None:
            return False
        raise ConflictError("address changed while it was being written") from error
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return True


def add_event(current: AddressState, event: AddressEvent) -> bool:
    """Write an event that changes nothing, whatever the address's state (a held error);
    False when it already exists."""
    detail = {**event.detail, "status": current.status.value, "version": current.version}
    return _put_new_event(to_event_item(event.model_copy(update={"detail": detail})))


def find_event(channel: Channel, address: Address, event_id: str) -> AddressEvent | None:
    try:
        item = AddressEventModel.get(address_key(channel, address), event_id, consistent_read=True)
    except AddressEventModel.DoesNotExist:
        return None
    except GetError as error:
        raise StoreUnavailableError(str(error)) from error
    return to_event(item)


def update_event_detail(event: AddressEvent, detail: dict[str, Any]) -> AddressEvent:
    """Merge `detail` into a stored event's detail (for example: the reply went out)."""
    merged = {**event.detail, **detail}
    try:
        _event_key_item(event).update(actions=[AddressEventModel.detail.set(_plain(merged))])
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return event.model_copy(update={"detail": merged})


def history_of(
    channel: Channel, address: Address, *, limit: int, cursor: str | None, newest_first: bool = True
) -> Page[AddressEvent]:
    try:
        result = AddressEventModel.query(
            address_key(channel, address),
            scan_index_forward=not newest_first,
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor,
                {"address_key": "S", "event_id": "S"},
                {"address_key": address_key(channel, address)},
            ),
            consistent_read=True,
        )
        items = [to_event(item) for item in result]
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def events_since(channel: Channel, address: Address, since: datetime) -> list[AddressEvent]:
    """The address's events from `since` on, oldest first."""
    try:
        result = AddressEventModel.query(
            address_key(channel, address),
            range_key_condition=AddressEventModel.event_id >= since.isoformat(),
            consistent_read=True,
        )
        return [to_event(item) for item in result]
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error


def addresses_with_status(
    channel: Channel,
    status: AddressStatus,
    *,
    domain: str | None = None,
    reason: str | None = None,
    error_since: datetime | None = None,
    error_until: datetime | None = None,
    changed_since: datetime | None = None,
    release_due_by: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> Page[AddressState]:
    """One page of the addresses with a status (the sparse by-status index), optionally
    of one domain, with one reason, and with a last counted error in a time window."""
    try:
        result = AddressModel.status_index.query(
            f"{channel.value}#{status.value}",
            range_key_condition=_of_domain(domain),
            filter_condition=_status_filter(
                reason, error_since, error_until, changed_since, release_due_by
            ),
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor,
                {"status_key": "S", "domain_key": "S", "address_key": "S"},
                {"status_key": f"{channel.value}#{status.value}"},
            ),
        )
        items = [to_state(item) for item in result]
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def count_with_status(
    channel: Channel,
    status: AddressStatus,
    *,
    domain: str | None = None,
    reason: str | None = None,
    error_since: datetime | None = None,
    error_until: datetime | None = None,
) -> int:
    """How many addresses `addresses_with_status` would list, over all pages."""
    try:
        return int(
            AddressModel.status_index.count(
                f"{channel.value}#{status.value}",
                range_key_condition=_of_domain(domain),
                filter_condition=_status_filter(reason, error_since, error_until, None, None),
            )
        )
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error


def _of_domain(domain: str | None) -> Any:
    return AddressModel.domain_key.startswith(f"{domain}#") if domain else None


def _status_filter(
    reason: str | None,
    error_since: datetime | None,
    error_until: datetime | None,
    changed_since: datetime | None,
    release_due_by: datetime | None,
) -> Any:
    conditions = []
    if reason is not None:
        conditions.append(AddressModel.reason == reason)
    if error_since is not None:
        conditions.append(AddressModel.last_counted_error_at >= error_since)
    if error_until is not None:
        conditions.append(AddressModel.last_counted_error_at <= error_until)
    if changed_since is not None:
        conditions.append(AddressModel.updated_at >= changed_since)
    if release_due_by is not None:
        conditions.append(AddressModel.release_at <= release_due_by)
    return _all_of(conditions)


def held_events(key: str, *, limit: int, cursor: str | None = None) -> Page[AddressEvent]:
    """One page of the feedback held for `key` (`<channel>#<domain>`), oldest first."""
    try:
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
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return Page(items=items, cursor=encode_cursor(result.last_evaluated_key))


def count_held(key: str) -> int:
    try:
        return int(AddressEventModel.held_index.count(key))
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error


def decide_held(
    event: AddressEvent,
    current: AddressState,
    updated: AddressState,
    detail: dict[str, Any],
) -> bool:
    """Take `event` out of the held index with the operator's decision in its detail, and
    write the address when the decision changed it. False when the event was decided
    already (nothing is written); ConflictError when the address changed meanwhile."""
    changed = updated != current
    merged = {**event.detail, **detail, "status": updated.status.value}
    if changed:
        merged["version"] = current.version + 1
    try:
        with TransactWrite(connection=transactions()) as tx:
            tx.update(
                _event_key_item(event),
                actions=[
                    AddressEventModel.held_domain.remove(),
                    AddressEventModel.detail.set(_plain(merged)),
                ],
                condition=AddressEventModel.held_domain.exists(),
            )
            _guard_address(tx, current, updated if changed else None)
    except TransactWriteError as error:
        _raise_unless_condition_failed(error)
        stored = find_event(event.channel, event.address, event.event_id)
        if stored is None or not stored.held:
            return False
        raise ConflictError("address changed while its held error was decided") from error
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error
    return True


def hold_retroactively(
    current: AddressState,
    restored: AddressState,
    events: list[AddressEvent],
    key: str,
    detail: dict[str, Any],
) -> None:
    """Put feedback that was applied back on hold: the address returns to `restored`
    (the state before that feedback) and each event joins the held index under `key`.
    ConflictError when the address changed since `current` was read."""
    if len(events) >= TRANSACTION_ITEMS:
        raise ConflictError("too many events to hold in one transaction")
    try:
        with TransactWrite(connection=transactions()) as tx:
            _guard_address(tx, current, restored)
            for event in events:
                tx.update(
                    _event_key_item(event),
                    actions=[
                        AddressEventModel.held_domain.set(key),
                        AddressEventModel.detail.set(_plain({**event.detail, **detail})),
                    ],
                    condition=AddressEventModel.held_domain.does_not_exist(),
                )
    except TransactWriteError as error:
        _raise_unless_condition_failed(error)
        raise ConflictError("address or its events changed while held back") from error
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error


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


def _event_key_item(event: AddressEvent) -> AddressEventModel:
    return AddressEventModel(address_key(event.channel, event.address), event.event_id)


def _guard_address(tx: TransactWrite, current: AddressState, updated: AddressState | None) -> None:
    """Within `tx`: write `updated` if given, else check that the address is as read."""
    if updated is not None:
        tx.save(to_item(updated, version=current.version + 1), condition=unchanged_since(current))
    elif current.version:
        tx.condition_check(
            AddressModel,
            address_key(current.channel, current.address),
            condition=AddressModel.version == current.version,
        )
    else:
        tx.condition_check(
            AddressModel,
            address_key(current.channel, current.address),
            condition=AddressModel.address_key.does_not_exist(),
        )


def _put_new_event(item: AddressEventModel) -> bool:
    try:
        item.save(condition=AddressEventModel.event_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise StoreUnavailableError(str(error)) from error
    return True


def _raise_unless_condition_failed(error: TransactWriteError) -> None:
    if not _condition_failed(error):
        raise StoreUnavailableError(str(error)) from error


def _condition_failed(error: TransactWriteError) -> bool:
    return any(
        reason is not None and reason.code == "ConditionalCheckFailed"
        for reason in error.cancellation_reasons or []
    )


def _all_of(conditions: list[Any]) -> Any:
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined &= condition
    return combined


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
