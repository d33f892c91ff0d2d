"""The daily job: resets and releases due under the counting rules, with history."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from consentry.addresses import address_store, history_store
from consentry.addresses.status import AddressState, AddressStatus
from consentry.core.types import Address, Channel
from tests.integration.helpers import present

NOW = datetime.now(UTC)
"""This test's instant: `fresh_now` takes it again before each test."""

pytestmark = pytest.mark.usefixtures("fresh_now")


def seed(
    address: str,
    status: AddressStatus,
    reason: str,
    *,
    last_error_days_ago: int,
    release_in_days: int | None = None,
    channel: str = "email",
) -> None:
    state = AddressState(
        channel=Channel(channel),
        address=Address(address),
        error_status=status,
        reason=reason,
        error_count=5 if status is AddressStatus.QUARANTINE else 2,
        last_counted_error_at=NOW - timedelta(days=last_error_days_ago),
        release_at=NOW + timedelta(days=release_in_days) if release_in_days is not None else None,
        updated_at=NOW - timedelta(days=last_error_days_ago),
    )
    address_store.to_item(state, version=3).save()


def run(remaining_ms: int = 900_000) -> dict[str, Any]:
    from quarantine.schedule import lambda_handler

    context = SimpleNamespace(
        function_name="quarantine-schedule",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:quarantine-schedule",
        aws_request_id="00000000-0000-0000-0000-000000000001",
        get_remaining_time_in_millis=lambda: remaining_ms,
    )
    result: dict[str, Any] = lambda_handler({"source": "aws.events"}, context)
    return result


def state(address: str, channel: Channel = Channel.EMAIL) -> AddressState:
    return present(address_store.find_address(channel, Address(address)))


def test_due_resets_and_releases_are_applied_with_history() -> None:
    seed("stale@example.com", AddressStatus.ERRONEOUS, "unreachable", last_error_days_ago=11)
    seed("fresh@example.com", AddressStatus.ERRONEOUS, "unreachable", last_error_days_ago=9)
    seed(
        "full@example.com",
        AddressStatus.QUARANTINE,
        "mailbox_full",
        last_error_days_ago=31,
        release_in_days=-1,
    )
    seed(
        "still-full@example.com",
        AddressStatus.QUARANTINE,
        "mailbox_full",
        last_error_days_ago=29,
        release_in_days=1,
    )
    seed("gone@example.com", AddressStatus.QUARANTINE, "user_unknown", last_error_days_ago=400)
    seed(
        "+31612345678",
        AddressStatus.ERRONEOUS,
        "unreachable",
        last_error_days_ago=12,
        channel="sms",
    )

    result = run()

    assert (result["reset"], result["released"], result["complete"]) == (2, 1, True)
    assert {
        a: state(a).status
        for a in (
            "stale@example.com",
            "fresh@example.com",
            "full@example.com",
            "still-full@example.com",
            "gone@example.com",
        )
    } == {
        "stale@example.com": AddressStatus.VALID,
        "fresh@example.com": AddressStatus.ERRONEOUS,
        "full@example.com": AddressStatus.VALID,
        "still-full@example.com": AddressStatus.QUARANTINE,
        "gone@example.com": AddressStatus.QUARANTINE,
    }
    assert state("+31612345678", Channel.SMS).error_count == 0
    [event] = history_store.history_of(
        Channel.EMAIL, Address("full@example.com"), limit=5, cursor=None
    ).items
    assert (event.kind, event.reason, event.actor) == (
        "scheduled",
        "quarantine_released",
        "schedule",
    )
    assert event.detail["before"]["error_status"] == "quarantine"


def test_a_second_run_finds_nothing_due() -> None:
    seed("stale@example.com", AddressStatus.ERRONEOUS, "unreachable", last_error_days_ago=11)
    run()

    result = run()

    assert (result["examined"], result["reset"]) == (0, 0)
    assert (
        len(
            history_store.history_of(
                Channel.EMAIL, Address("stale@example.com"), limit=5, cursor=None
            ).items
        )
        == 1
    )


def test_a_run_out_of_time_stops_and_says_so() -> None:
    seed("stale@example.com", AddressStatus.ERRONEOUS, "unreachable", last_error_days_ago=11)

    result = run(remaining_ms=1_000)

    assert (result["complete"], result["reset"]) == (False, 0)
    assert state("stale@example.com").status is AddressStatus.ERRONEOUS
