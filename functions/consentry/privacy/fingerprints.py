"""Keyed fingerprints of erased addresses, and the suppressions they keep.

A fingerprint is HMAC-SHA256, under a key of the erasure keyring, of the channel and
the normalized address: it matches the address when the address comes back (an
import, a profile, an audience row, a check), and reveals nothing without the key.
The keyring is a secret shaped like the link keys' (`{"active": id, id: key, ...}`):
new fingerprints use the active key; every key in it is tried when looking one up, so
a key stays in the secret for as long as fingerprints made with it must hold.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pynamodb.transactions import TransactWrite

from consentry.addresses import history_store
from consentry.analysis.exclusion import ExclusionCause
from consentry.consent.tokens import Keyring
from consentry.core.observability import mask_address
from consentry.core.persistence import LostRace, dynamodb, transactions
from consentry.core.types import Address, Channel
from consentry.privacy.tables import ErasedAddressModel

KEPT_CAUSES = frozenset(
    {
        ExclusionCause.ADDRESS_DENYLISTED,
        ExclusionCause.ADDRESS_QUARANTINED,
        ExclusionCause.PROFILE_OPTED_OUT,
    }
)
"""What an erased address can keep stopping: its own status, or its owner's opt-out."""
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class ErasedSuppression:
    """What one erased address still stops, and since when: built from the erased
    addresses' table or by the erasure itself (a dataclass, as our own values are, so
    that a sign-up's erased-address check loads no pydantic)."""

    channel: Channel
    cause: ExclusionCause
    reason: str | None = None
    erased_at: datetime


def fingerprint(keyring: Keyring, key_id: str, channel: Channel, address: Address) -> str:
    """The fingerprint of a normalized address under one key of the keyring."""
    message = channel.value.encode() + b"\x1f" + address.encode()
    digest = hmac.new(keyring.keys[key_id].encode(), message, hashlib.sha256).hexdigest()
    return f"{key_id}:{channel.value}:{digest}"


def find(
    keyring: Keyring, addresses: Iterable[tuple[Channel, Address]]
) -> dict[tuple[Channel, Address], ErasedSuppression]:
    """The suppression each erased address still carries (none when lifted); one
    BatchGetItem per 100 fingerprints, each address looked up under every key."""
    wanted: dict[str, tuple[Channel, Address]] = {}
    for channel, address in addresses:
        for key_id in keyring.keys:
            wanted[fingerprint(keyring, key_id, channel, address)] = (channel, address)
    if not wanted:
        return {}
    with dynamodb():
        items = list(ErasedAddressModel.batch_get(list(wanted)))
    found: dict[tuple[Channel, Address], ErasedSuppression] = {}
    for item in items:
        if item.lifted_at is None:
            found[wanted[item.fingerprint]] = _to_suppression(item)
    return found


def of_channel(channel: Channel) -> dict[str, ExclusionCause]:
    """Every fingerprint of the channel still in force, with the cause it keeps (a Scan:
    the table holds one item per erased address, a small fraction of any audience)."""
    with dynamodb():
        items = list(
            ErasedAddressModel.scan(
                (ErasedAddressModel.channel == channel.value)
                & ErasedAddressModel.lifted_at.does_not_exist()
            )
        )
    return {item.fingerprint: ExclusionCause(item.cause) for item in items}


def matcher(keyring: Keyring, channel: Channel, kept: Mapping[str, T]) -> Callable[[str], T | None]:
    """What `kept` holds for a normalized address's fingerprint under any key of the
    keyring, or None (for the analysis: one HMAC per key and distinct address)."""
    keys = [
        (f"{key_id}:{channel.value}:", hmac.new(key.encode(), digestmod=hashlib.sha256))
        for key_id, key in keyring.keys.items()
    ]
    prefix = channel.value.encode() + b"\x1f"

    def match(address: str) -> T | None:
        for label, keyed in keys:
            mac = keyed.copy()
            mac.update(prefix + address.encode())
            found = kept.get(label + mac.hexdigest())
            if found is not None:
                return found
        return None

    return match


def find_one(keyring: Keyring, channel: Channel, address: Address) -> ErasedSuppression | None:
    return find(keyring, [(channel, address)]).get((channel, address))


def kept(keyring: Keyring, address: Address, suppression: ErasedSuppression) -> ErasedAddressModel:
    """The item that keeps `suppression` for `address` under the active key (to save)."""
    if suppression.cause not in KEPT_CAUSES:
        raise ValueError(f"{suppression.cause} is not kept after an erasure")
    return ErasedAddressModel(
        fingerprint=fingerprint(keyring, keyring.active, suppression.channel, address),
        channel=suppression.channel.value,
        cause=suppression.cause.value,
        reason=suppression.reason,
        erased_at=suppression.erased_at,
    )


def keep(keyring: Keyring, address: Address, suppression: ErasedSuppression) -> None:
    with dynamodb():
        kept(keyring, address, suppression).save()


def lift(
    keyring: Keyring, channel: Channel, address: Address, *, actor: str, reason: str, at: datetime
) -> ErasedSuppression | None:
    """Lift what an erased address still stops (under every key); the suppression that
    was lifted, or None when there was none. Each lift is recorded with its event (in
    the address-events table under the fingerprint, published from its stream), in
    one transaction."""
    lifted: ErasedSuppression | None = None
    for key_id in keyring.keys:
        key = fingerprint(keyring, key_id, channel, address)
        with dynamodb():
            try:
                item = ErasedAddressModel.get(key, consistent_read=True)
            except ErasedAddressModel.DoesNotExist:
                continue
        if item.lifted_at is not None:
            continue
        event = history_store.lift_event_item(
            channel,
            key,
            at=at,
            actor=actor,
            reason=reason,
            cause=item.cause,
            masked=mask_address(address),
        )
        try:
            with dynamodb(), TransactWrite(connection=transactions()) as tx:
                tx.update(
                    item,
                    actions=[
                        ErasedAddressModel.lifted_at.set(at),
                        ErasedAddressModel.lifted_by.set(actor),
                        ErasedAddressModel.lift_reason.set(reason),
                    ],
                    condition=ErasedAddressModel.lifted_at.does_not_exist(),
                )
                history_store.add_new_event(tx, event)
        except LostRace:
            continue  # lifted by a concurrent request
        lifted = _to_suppression(item)
    return lifted


def _to_suppression(item: ErasedAddressModel) -> ErasedSuppression:
    return ErasedSuppression(
        channel=Channel(item.channel),
        cause=ExclusionCause(item.cause),
        reason=item.reason,
        erased_at=item.erased_at,
    )


def load_keyring(secret_name: str, *, max_age_s: int) -> Keyring:
    """The deployment's erasure keyring, fetched through Powertools parameters (cached)."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 (first use)

    secret = parameters.get_secret(secret_name, transform="json", max_age=max_age_s)
    return Keyring.from_secret(secret)
