"""Data access for addresses: the only module that maps the addresses and address-events tables."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from pynamodb.exceptions import GetError, PutError, PynamoDBException

from consentry.addresses import (
    AddressState,
    AddressStatus,
    address_domain,
    address_key,
    set_by_operator,
)
from consentry.clock import Clock, utc_now
from consentry.errors import ConflictError, StoreUnavailableError
from consentry.models import AddressEventModel, AddressModel
from consentry.types import Address, Channel

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
    clock: Clock = utc_now,
) -> AddressState:
    """An operator's (or an import's) explicit decision on an address, with its history."""
    for _ in range(MAX_ATTEMPTS):
        current = find_address(channel, address) or AddressState(channel=channel, address=address)
        now = clock()
        updated = set_by_operator(current, status, reason or "", now)
        try:
            write_with_event(
                current, updated, kind="operator", reason=reason, actor=actor, detail={}
            )
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
