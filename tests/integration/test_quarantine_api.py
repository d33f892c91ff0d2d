"""/v1/addresses: read, list, set and release addresses, through the consent function."""

from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack

import pytest

from consentry.addresses import address_store
from consentry.addresses.status import COMPLAINT_ORIGIN, AddressState, AddressStatus
from consentry.core.types import Address, Channel
from tests.integration.conftest import ApiCall
from tests.integration.helpers import present
from tests.integration.quarantine_support import FeedbackPath, ses

NOW = datetime.now(UTC)
"""This test's instant: `fresh_now` takes it again before each test."""

pytestmark = pytest.mark.usefixtures("fresh_now")
OPERATOR = "arn:aws:iam::123456789012:user/ops-anna"


class MoreState(TypedDict, total=False):
    """Fields of a seeded address state besides its status and error."""

    denylist_origins: frozenset[str]


def seed(
    address: str,
    status: AddressStatus = AddressStatus.QUARANTINE,
    reason: str = "user_unknown",
    *,
    days_ago: int = 1,
    **more: Unpack[MoreState],
) -> AddressState:
    channel, _, raw = address.partition(":")
    at = NOW - timedelta(days=days_ago)
    state = AddressState(
        channel=Channel(channel),
        address=Address(raw),
        error_status=status,
        reason=reason,
        error_count=1,
        last_counted_error_at=at,
        updated_at=at,
        **more,
    )
    address_store.to_item(state, version=1).save()
    return state


def test_an_unknown_address_is_404(api: ApiCall) -> None:
    response = api("GET", "/v1/addresses/email/nobody@example.com")

    assert response["statusCode"] == 404


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/addresses/email/not-an-address", "address"),
        ("/v1/addresses/sms/12", "address"),
        ("/v1/addresses/fax/x@example.com", "channel"),
    ],
)
def test_a_bad_address_or_channel_is_422_naming_it(api: ApiCall, path: str, field: str) -> None:
    response = api("GET", path)

    assert response["statusCode"] == 422
    assert field in response["body"]


def test_an_address_shows_status_reason_counters_and_history(api: ApiCall) -> None:
    path = FeedbackPath()
    path.publish(ses("bounce_hard"))
    path.drain()

    response = api("GET", "/v1/addresses/email/Jane.Roe@Example.com")

    body = response["json"]
    assert response["statusCode"] == 200
    assert (body["status"], body["reason"], body["errorCount"]) == ("quarantine", "user_unknown", 1)
    assert body["lastErrorAt"] is not None
    [event] = body["history"]
    assert (event["kind"], event["errorType"], event["status"], event["held"]) == (
        "bounce",
        "hard",
        "quarantine",
        False,
    )
    assert event["messageId"] == ses("bounce_hard")["mail"]["messageId"]


def test_a_bounce_landing_between_the_reads_never_shows_valid_over_its_event(
    api: ApiCall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item and its event are written together; the route reads the history, then
    the item, so an answer holding an event holds an item at least as new."""
    read = address_store.find_address
    path = FeedbackPath()

    def then_bounced(channel: Channel, address: Address) -> AddressState | None:
        found = read(channel, address)
        monkeypatch.setattr(address_store, "find_address", read)  # once
        path.publish(ses("bounce_hard"))
        path.drain()
        return found

    monkeypatch.setattr(address_store, "find_address", then_bounced)

    during = api("GET", "/v1/addresses/email/Jane.Roe@Example.com")
    after = api("GET", "/v1/addresses/email/Jane.Roe@Example.com")

    assert during["statusCode"] == 404  # neither read saw the bounce
    assert after["json"]["status"] == "quarantine"


def test_an_encoded_address_in_the_path_is_read(api: ApiCall) -> None:
    seed("email:jane@example.com")

    response = api("GET", "/v1/addresses/email/jane%40example.com")

    assert (response["statusCode"], response["json"]["address"]) == (200, "jane@example.com")


def test_a_national_phone_number_is_read_in_the_default_region(api: ApiCall) -> None:
    seed("sms:+14255550182")

    response = api("GET", "/v1/addresses/sms/(425) 555-0182")

    assert response["json"]["address"] == "+14255550182"


def test_an_operator_allowlists_an_address_with_a_reason(api: ApiCall) -> None:
    seed("email:seed@example.com")

    response = api(
        "PUT",
        "/v1/addresses/email/seed@example.com",
        json_body={"status": "allowlisted", "reason": "seed list of the QA team"},
        caller=OPERATOR,
    )

    body = response["json"]
    assert response["statusCode"] == 200
    assert (body["status"], body["errorStatus"], body["allowlisted"]) == (
        "allowlisted",
        "quarantine",
        True,
    )
    assert response["multiValueHeaders"]["ETag"] == [f'"{body["version"]}"']
    assert (body["history"][0]["kind"], body["history"][0]["actor"]) == ("operator", OPERATOR)
    assert body["history"][0]["reason"] == "seed list of the QA team"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "valid"}, "reason"),
        ({"status": "valid", "reason": "  "}, "reason"),
        ({"status": "erroneous", "reason": "r"}, "status"),
        ({"reason": "r"}, "status"),
        ({"status": "valid", "reason": "r", "extra": 1}, "extra"),
    ],
)
def test_a_bad_status_change_is_422_naming_the_field(
    api: ApiCall, body: dict[str, Any], field: str
) -> None:
    seed("email:jane@example.com")

    response = api("PUT", "/v1/addresses/email/jane@example.com", json_body=body)

    assert response["statusCode"] == 422
    assert field in response["body"]
    assert (
        present(address_store.find_address(Channel.EMAIL, Address("jane@example.com"))).version == 1
    )


def test_valid_releases_an_address(api: ApiCall) -> None:
    seed("email:jane@example.com", denylist_origins=frozenset({COMPLAINT_ORIGIN}))

    response = api(
        "PUT",
        "/v1/addresses/email/jane@example.com",
        json_body={"status": "valid", "reason": "the recipient asked by phone"},
    )

    assert (response["json"]["status"], response["json"]["errorCount"]) == ("valid", 0)
    assert response["json"]["denylistOrigins"] == []


def test_a_repeated_idempotency_key_applies_once(api: ApiCall) -> None:
    seed("email:jane@example.com")
    request = {"status": "denylisted", "reason": "spam trap"}
    headers = {"Idempotency-Key": "k-1"}

    first = api("PUT", "/v1/addresses/email/jane@example.com", json_body=request, headers=headers)
    second = api("PUT", "/v1/addresses/email/jane@example.com", json_body=request, headers=headers)

    assert first["json"] == second["json"]
    assert len(api("GET", "/v1/addresses/email/jane@example.com")["json"]["history"]) == 1


def test_addresses_are_listed_by_status_domain_and_reason_page_by_page(api: ApiCall) -> None:
    seed("email:a@example.com")
    seed("email:b@example.com")
    seed("email:c@example.com", reason="mailbox_full")
    seed("email:d@example.org")
    seed("email:e@example.com", status=AddressStatus.ERRONEOUS, reason="unreachable")

    first = api(
        "GET",
        "/v1/addresses",
        query={
            "status": "quarantine",
            "domain": "Example.COM",
            "reason": "user_unknown",
            "limit": "1",
        },
    )
    second = api(
        "GET",
        "/v1/addresses",
        query={
            "status": "quarantine",
            "domain": "example.com",
            "reason": "user_unknown",
            "cursor": first["json"]["nextCursor"],
        },
    )

    addresses = [i["address"] for i in first["json"]["items"] + second["json"]["items"]]
    assert addresses == ["a@example.com", "b@example.com"]
    assert second["json"]["nextCursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "status"),
        ({"status": "valid"}, "status"),
        ({"status": "quarantine", "cursor": "x"}, "cursor"),
    ],
)
def test_a_bad_list_request_is_422_naming_the_field(
    api: ApiCall, query: dict[str, str], field: str
) -> None:
    response = api("GET", "/v1/addresses", query=query)

    assert response["statusCode"] == 422
    assert field in response["body"]


def test_a_dry_run_counts_and_changes_nothing(api: ApiCall) -> None:
    for i in range(3):
        seed(f"email:u{i}@example.com")
    seed("email:other@example.org")

    response = api(
        "POST",
        "/v1/addresses/release",
        json_body={"domain": "example.com", "reason": "outage", "dryRun": True, "limit": 1},
    )

    assert (response["json"]["matched"], response["json"]["released"]) == (3, 0)
    assert len(api("GET", "/v1/addresses", query={"status": "quarantine"})["json"]["items"]) == 4


def test_a_bulk_release_by_domain_reason_and_time_window_keeps_denylists(api: ApiCall) -> None:
    seed("email:recent@example.com", days_ago=1)
    seed("email:old@example.com", days_ago=20)
    seed("email:full@example.com", reason="mailbox_full", days_ago=1)
    seed("email:other@example.org", days_ago=1)
    seed(
        "email:complained@example.com",
        days_ago=1,
        denylist_origins=frozenset({COMPLAINT_ORIGIN}),
    )

    response = api(
        "POST",
        "/v1/addresses/release",
        json_body={
            "domain": "example.com",
            "failureReason": "user_unknown",
            "since": (NOW - timedelta(days=2)).isoformat(),
            "until": NOW.isoformat(),
            "reason": "provider outage of 2026-11-28",
        },
        caller=OPERATOR,
    )

    assert response["statusCode"] == 200
    assert response["json"]["released"] == 1  # the denylisted one is not in the quarantine list
    recent = api("GET", "/v1/addresses/email/recent@example.com")["json"]
    assert (recent["status"], recent["history"][0]["kind"], recent["history"][0]["actor"]) == (
        "valid",
        "release",
        OPERATOR,
    )
    still = {
        i["address"]
        for i in api("GET", "/v1/addresses", query={"status": "quarantine"})["json"]["items"]
    }
    assert still == {"old@example.com", "full@example.com", "other@example.org"}
    complained = present(
        address_store.find_address(Channel.EMAIL, Address("complained@example.com"))
    )
    assert complained.status is AddressStatus.DENYLISTED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"domain": "example.com"}, "reason"),
        (
            {"reason": "r", "since": "2026-11-30T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
            "until",
        ),
        ({"reason": "r", "since": "2026-11-30T00:00:00"}, "since"),
        ({"reason": "r", "status": "denylisted"}, "status"),
    ],
)
def test_a_bad_bulk_release_is_422_naming_the_field(
    api: ApiCall, body: dict[str, Any], field: str
) -> None:
    response = api("POST", "/v1/addresses/release", json_body=body)

    assert response["statusCode"] == 422
    assert field in response["body"]


def test_an_address_history_pages_newest_first(api: ApiCall) -> None:
    path = FeedbackPath()
    base = datetime(2026, 11, 1, tzinfo=UTC)
    for day in range(3):
        path.publish(ses("bounce_soft", message_id=f"m{day}", at=base + timedelta(days=day)))
    path.drain()

    first = api("GET", "/v1/addresses/email/sam.poe@example.net/history", query={"limit": "2"})
    second = api(
        "GET",
        "/v1/addresses/email/sam.poe@example.net/history",
        query={"limit": "2", "cursor": first["json"]["nextCursor"]},
    )

    counts = [e["detail"]["changed"] for e in first["json"]["items"] + second["json"]["items"]]
    times = [e["at"] for e in first["json"]["items"] + second["json"]["items"]]
    assert counts == [True, True, True]
    assert times == sorted(times, reverse=True)


def test_unknown_outages_are_404(api: ApiCall) -> None:
    assert api("GET", "/v1/outages/email/example.com")["statusCode"] == 404
    response = api("POST", "/v1/outages/email/example.com/apply", json_body={"reason": "r"})
    assert response["statusCode"] == 404


def test_an_outage_decision_needs_a_reason(api: ApiCall) -> None:
    response = api("POST", "/v1/outages/email/example.com/release", json_body={})

    assert response["statusCode"] == 422
    assert "reason" in response["body"]
