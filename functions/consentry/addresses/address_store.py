"""Data access for address items: the only module that maps the addresses table.

Writes of an address always carry its event, in one transaction: they go through
`consentry.addresses.history_store`, which puts the item with `guard`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from consentry.addresses.status import (
    AddressState,
    AddressStatus,
    ErrorHealth,
    Occurrence,
    Outcome,
    address_domain,
    address_key,
    health_document,
    health_of,
)
from consentry.addresses.tables import AddressModel
from consentry.core.changed import changed_day
from consentry.core.clock import utc_now
from consentry.core.pagination import Page, decode_cursor, encode_cursor
from consentry.core.persistence import dynamodb
from consentry.core.types import Address, Channel


def find_address(channel: Channel, address: Address) -> AddressState | None:
    with dynamodb():
        try:
            item = AddressModel.get(address_key(channel, address), consistent_read=True)
        except AddressModel.DoesNotExist:
            return None
    return to_state(item)


def find_addresses(
    keys: Iterable[tuple[Channel, Address]], *, consistent: bool = True
) -> dict[tuple[Channel, Address], AddressState]:
    """The stored state of each address that has one (BatchGetItem, 100 keys a call)."""
    wanted = {address_key(c, a) for c, a in keys}
    with dynamodb():
        found = [
            to_state(item) for item in AddressModel.batch_get(wanted, consistent_read=consistent)
        ]
    return {(state.channel, state.address): state for state in found}


def addresses_with_status(
    channel: Channel,
    status: AddressStatus,
    *,
    domain: str | None = None,
    reason: str | None = None,
    error_since: datetime | None = None,
    error_until: datetime | None = None,
    written_since: datetime | None = None,
    release_due_by: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> Page[AddressState]:
    """One page of the addresses with a status (the sparse by-status index), optionally
    of one domain, with one reason, with a last counted error in a time window, and
    written since a moment."""
    with dynamodb():
        result = AddressModel.status_index.query(
            status_key(channel, status),
            range_key_condition=_of_domain(domain),
            filter_condition=_status_filter(
                reason, error_since, error_until, written_since, release_due_by
            ),
            limit=limit,
            last_evaluated_key=decode_cursor(
                cursor,
                {"status_key": "S", "domain_key": "S", "address_key": "S"},
                {"status_key": status_key(channel, status)},
            ),
        )
        items = [to_state(item) for item in result]
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
    with dynamodb():
        return int(
            AddressModel.status_index.count(
                status_key(channel, status),
                range_key_condition=_of_domain(domain),
                filter_condition=_status_filter(reason, error_since, error_until, None, None),
            )
        )


def status_key(channel: Channel, status: AddressStatus) -> str:
    """The key of the sparse by-status index."""
    return f"{channel.value}#{status.value}"


def guard(tx: TransactWrite, current: AddressState, updated: AddressState | None) -> None:
    """Within `tx`: write `updated` if given, else check that the address is as read.

    Either way the transaction fails (a lost race) when another writer changed the
    address since `current` was read."""
    if updated is not None:
        tx.save(to_item(updated, version=current.version + 1), condition=_unchanged_since(current))
    else:
        tx.condition_check(
            AddressModel,
            address_key(current.channel, current.address),
            condition=_unchanged_since(current),
        )


def save(current: AddressState, updated: AddressState) -> None:
    """Write `updated` alone (no event): for a change no history shows, such as a
    delivery outcome kept for the counting. LostRace when the address changed since
    `current` was read."""
    with dynamodb():
        to_item(updated, version=current.version + 1).save(condition=_unchanged_since(current))


def _unchanged_since(state: AddressState) -> Any:
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
        **_counting_of(item.counting),
    )


def to_item(state: AddressState, *, version: int) -> AddressModel:
    status = state.status
    indexed = status is not AddressStatus.VALID
    key = address_key(state.channel, state.address)
    # The real clock: an analysis reads what changed since its snapshot by when it
    # was written (the `changed` index), not by the change's own time.
    written = utc_now()
    return AddressModel(
        key,
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
        counting=_counting_text(state),
        status_key=status_key(state.channel, status) if indexed else None,
        domain_key=f"{address_domain(state.channel, state.address)}#{state.address}"
        if indexed
        else None,
        changed_day=changed_day(key, written),
        changed_at=written,
    )


def _counting_text(state: AddressState) -> str | None:
    """The counting fields as compact JSON: outcomes as [epoch µs, key, outcome, reason]."""
    if not state.occurrences and state.base is None and state.decided_at is None:
        return None
    document = {
        "o": [[_us(o.at), o.key, o.outcome.value, o.reason] for o in state.occurrences],
        "b": _health_document(state.base) if state.base is not None else None,
        "d": _us(state.decided_at) if state.decided_at else None,
    }
    return json.dumps(document, separators=(",", ":"))


def _counting_of(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    document = json.loads(text)
    return {
        "occurrences": tuple(
            Occurrence(at=_at(us), key=key, outcome=Outcome(outcome), reason=reason)
            for us, key, outcome, reason in document["o"]
        ),
        "base": health_of(document["b"]) if document["b"] is not None else None,
        "decided_at": _at(document["d"]) if document["d"] is not None else None,
    }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _at(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND


def _health_document(health: ErrorHealth) -> dict[str, Any]:
    """A base health as stored: the fields that differ from a valid address's."""
    document = health_document(health)
    valid = health_document(ErrorHealth())
    return {name: value for name, value in document.items() if value != valid[name]}


def _of_domain(domain: str | None) -> Any:
    return AddressModel.domain_key.startswith(f"{domain}#") if domain else None


def _status_filter(
    reason: str | None,
    error_since: datetime | None,
    error_until: datetime | None,
    written_since: datetime | None,
    release_due_by: datetime | None,
) -> Any:
    conditions = []
    if reason is not None:
        conditions.append(AddressModel.reason == reason)
    if error_since is not None:
        conditions.append(AddressModel.last_counted_error_at >= error_since)
    if error_until is not None:
        conditions.append(AddressModel.last_counted_error_at <= error_until)
    if written_since is not None:
        # When the item was written, not the time of the change it records (`updated_at`:
        # feedback may be processed long after it happened).
        conditions.append(AddressModel.changed_at >= written_since)
    if release_due_by is not None:
        conditions.append(AddressModel.release_at <= release_due_by)
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def forget(keys: Iterable[tuple[Channel, Address]]) -> int:
    """Delete the items of these addresses (an erasure; what they stopped is kept as a
    fingerprint first). How many there were."""
    wanted = {address_key(c, a) for c, a in keys}
    with dynamodb():
        found = list(AddressModel.batch_get(wanted, consistent_read=True))
        with AddressModel.batch_write() as batch:
            for item in found:
                batch.delete(item)
    return len(found)
