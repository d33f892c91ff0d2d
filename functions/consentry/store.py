"""Data access for consent: the only module that reads and writes profiles and their events.

A change is one TransactWriteItems: the profile item, conditioned on the version it
was read at, and the new event, conditioned on not existing. A concurrent writer makes
the condition fail; the change is then re-applied to fresh state, or refused when the
caller named the version it expected.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from pynamodb.exceptions import (
    GetError,
    PutError,
    PynamoDBException,
    QueryError,
    TransactWriteError,
)
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from consentry.clock import Clock, utc_now
from consentry.consent import ConsentChange, ConsentEvent, ConsentState, advance
from consentry.errors import ConflictError, NotFoundError, StaleVersionError, StoreUnavailableError
from consentry.models import OPTED_OUT_BUCKETS, ConsentEventModel, ProfileModel, transactions
from consentry.types import Action, Channel, ProfileId, Source

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ChangeResult:
    state: ConsentState
    event: ConsentEvent | None
    """None when the change had nothing to change (a repeat)."""


def find_consent(profile_id: ProfileId) -> ConsentState | None:
    try:
        item = ProfileModel.get(profile_id, consistent_read=True)
    except ProfileModel.DoesNotExist:
        return None
    except GetError as error:
        raise StoreUnavailableError(str(error)) from error
    return _to_state(item)


def get_consent(profile_id: ProfileId) -> ConsentState:
    state = find_consent(profile_id)
    if state is None:
        raise NotFoundError("profile", profile_id)
    return state


def latest_events(profile_id: ProfileId, limit: int) -> list[ConsentEvent]:
    """The profile's newest events, newest first."""
    try:
        items = ConsentEventModel.query(profile_id, scan_index_forward=False, limit=limit)
        return [_to_event(item) for item in items]
    except QueryError as error:
        raise StoreUnavailableError(str(error)) from error


def record_change(
    profile_id: ProfileId,
    change: ConsentChange,
    *,
    clock: Clock = utc_now,
    expected_version: int | None = None,
) -> ChangeResult:
    """Apply `change` and append its event in one transaction.

    Without `expected_version` a lost race is retried on fresh state; with it, a
    stored version other than the expected one raises StaleVersionError.
    """
    for _ in range(MAX_ATTEMPTS):
        state = find_consent(profile_id) or ConsentState(profile_id=profile_id)
        if expected_version is not None and state.version != expected_version:
            raise StaleVersionError(expected_version, state.version)
        step = advance(state, change, clock())
        if step is None:
            return ChangeResult(state=state, event=None)
        new_state, event = step
        try:
            _write(state, new_state, event)
        except _LostRace:
            continue
        return ChangeResult(state=new_state, event=event)
    raise ConflictError(f"profile {profile_id!r} kept changing; {MAX_ATTEMPTS} attempts lost")


class _LostRace(Exception):
    pass


def _write(old: ConsentState, new: ConsentState, event: ConsentEvent) -> None:
    profile = _to_profile_item(new)
    try:
        with TransactWrite(connection=transactions(), client_request_token=event.hash[:36]) as tx:
            tx.save(profile, condition=_unchanged_since(old))
            tx.save(_to_event_item(event), condition=ConsentEventModel.seq.does_not_exist())
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        if any(
            reason is not None and reason.code == "ConditionalCheckFailed" for reason in reasons
        ):
            raise _LostRace from error
        raise StoreUnavailableError(str(error)) from error
    except PynamoDBException as error:
        raise StoreUnavailableError(str(error)) from error


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
        head_hash=item.head_hash or ConsentState.model_fields["head_hash"].default,
        updated_at=item.updated_at,
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
    )


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
        prev_hash=item.prev_hash,
        hash=item.hash,
    )


def _to_event_item(event: ConsentEvent) -> ConsentEventModel:
    return ConsentEventModel(
        **event.model_dump(exclude={"action", "source"}),
        action=event.action.value,
        source=event.source.value,
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
    for _ in range(MAX_ATTEMPTS):
        state = find_consent(profile_id) or ConsentState(profile_id=profile_id)
        updated = state.model_copy(
            update={
                "addresses": dict(addresses),
                "locale": locale,
                "version": state.version + 1,
                "updated_at": clock(),
            }
        )
        if updated.addresses == state.addresses and updated.locale == state.locale:
            return state
        try:
            _to_profile_item(updated).save(condition=_unchanged_since(state))
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                continue
            raise StoreUnavailableError(str(error)) from error
        return updated
    raise ConflictError(f"profile {profile_id!r} kept changing; {MAX_ATTEMPTS} attempts lost")
