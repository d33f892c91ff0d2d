"""Reading the suppression data of an analysis: raw Query pages of the sparse indexes,
complete over every page and every address range, and fail-closed when a page cannot be
read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from consentry.addresses.status import AddressStatus
from consentry.analysis import suppression
from consentry.analysis.suppression import ReadMeter
from consentry.core.errors import StoreUnavailableError
from consentry.core.types import Channel
from tests.integration.analysis_support import opt_out, set_address

EMAILS = [
    "0@example.com",
    "9z@example.com",
    "a@example.com",
    "b@example.com",
    "bz@example.com",
    "m.n@example.com",
    "x@example.com",
    "zz@example.com",
    "~tilde@example.com",
]
PHONES = ["+12025550100", "+31612345678", "+447700900123", "+819012345678", "+99123456"]


def test_every_item_of_every_page_and_range_is_read() -> None:
    for number in range(7):
        opt_out(f"p{number}")
    opt_out("p-sms", Channel.SMS)
    for number, address in enumerate(EMAILS):
        status = AddressStatus.QUARANTINE if number % 2 else AddressStatus.DENYLISTED
        set_address(address, status)
    for phone in PHONES:
        set_address(phone, AddressStatus.QUARANTINE, Channel.SMS)
    set_address("valid@example.com", AddressStatus.QUARANTINE)
    set_address("valid@example.com", AddressStatus.ALLOWLISTED)
    meter = ReadMeter()

    profiles = suppression.opted_out_profiles(Channel.EMAIL, meter, page_size=2)
    now = datetime.now(UTC)
    denied = suppression.addresses_with(
        Channel.EMAIL, AddressStatus.DENYLISTED, now, meter, page_size=1
    )
    quarantined = suppression.addresses_with(
        Channel.EMAIL, AddressStatus.QUARANTINE, now, meter, page_size=1
    )
    phones = suppression.addresses_with(
        Channel.SMS, AddressStatus.QUARANTINE, now, meter, page_size=1
    )

    assert sorted(profiles) == [f"p{n}" for n in range(7)]
    assert sorted(denied) == EMAILS[0::2]
    assert sorted(quarantined) == EMAILS[1::2]
    assert sorted(phones) == PHONES
    assert meter.items == 8 + len(EMAILS) + len(PHONES)  # p-sms is read, then left out


def test_the_address_ranges_leave_no_gap() -> None:
    ranges = suppression.address_ranges(Channel.EMAIL)

    def covered(key: str) -> bool:
        for operator, bounds in ranges:
            if operator == "<" and key < bounds[0]:
                return True
            if operator == ">=" and key >= bounds[0]:
                return True
            if operator == "BETWEEN" and bounds[0] <= key <= bounds[1]:
                return True
        return False

    keys = [f"email#{c}" for c in map(chr, range(32, 127))] + ["email#", "email#\uffff"]
    assert all(covered(key) for key in keys)
    assert all(covered(f"email#{cut}") for cut in suppression.ADDRESS_SPLITS)


class _Down:
    def query(self, **_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "simulated"}}, "Query"
        )


def test_a_page_that_cannot_be_read_fails_the_read_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opt_out("p1")
    monkeypatch.setattr(suppression, "_raw_client", lambda _model: _Down())

    with pytest.raises(StoreUnavailableError) as raised:
        suppression.opted_out_profiles(Channel.EMAIL, ReadMeter())

    assert "consent store is unavailable" in str(raised.value)
    assert "opted-out" in raised.value.detail
