"""Data access for address statuses: the only module that reads and writes the addresses table."""

from __future__ import annotations

from pynamodb.exceptions import GetError, PutError

from consentry.addresses import AddressState, AddressStatus, address_domain, address_key
from consentry.clock import Clock, utc_now
from consentry.errors import StoreUnavailableError
from consentry.models import AddressModel
from consentry.types import Address, Channel


def find_address(channel: Channel, address: Address) -> AddressState | None:
    try:
        item = AddressModel.get(address_key(channel, address))
    except AddressModel.DoesNotExist:
        return None
    except GetError as error:
        raise StoreUnavailableError(str(error)) from error
    return AddressState(
        channel=Channel(item.channel),
        address=Address(item.address),
        status=AddressStatus(item.status),
        reason=item.reason,
        error_count=int(item.error_count),
        updated_at=item.updated_at,
    )


def put_address_status(
    channel: Channel,
    address: Address,
    status: AddressStatus,
    reason: str | None,
    *,
    clock: Clock = utc_now,
) -> AddressState:
    """Set an address's status outright (operator decisions and imports)."""
    now = clock()
    sparse = status is not AddressStatus.VALID
    item = AddressModel(
        address_key(channel, address),
        channel=channel.value,
        address=address,
        status=status.value,
        reason=reason,
        status_changed_at=now,
        updated_at=now,
        status_key=f"{channel.value}#{status.value}" if sparse else None,
        domain_key=f"{address_domain(channel, address)}#{address}" if sparse else None,
    )
    try:
        item.save()
    except PutError as error:
        raise StoreUnavailableError(str(error)) from error
    return AddressState(
        channel=channel, address=address, status=status, reason=reason, updated_at=now
    )
