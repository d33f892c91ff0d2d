"""The console's changes beyond one address: a filtered set of addresses released after
a confirmation that counts it, outage holds released or applied, a profile erased and
an erased address's suppression lifted. Each on /v1's logic, by the signed-in operator
with a reason; a viewer changes nothing, and neither does a form without its token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from consentry.addresses import domain_windows
from consentry.addresses.counting import QuarantinePolicy
from consentry.addresses.decisions import put_status
from consentry.addresses.events import held_key
from consentry.addresses.status import AddressStatus
from consentry.core.types import Address, Channel
from tests.integration.conftest import ApiCall
from tests.integration.console_support import EMAIL, PROFILE, ConsoleClient, location
from tests.integration.quarantine_support import FeedbackPath
from tests.integration.test_quarantine_outage import hold_looking_back, outage_of_example_com

MAILBOX_FULL = [f"full.{n}@busy.example" for n in range(3)]
UNKNOWN = "nobody@busy.example"
ELSEWHERE = "full@other.example"
BUSY = {"filter_channel": "email", "filter_status": "quarantine", "filter_domain": "busy.example"}


@pytest.fixture
def quarantined(seeded: ConsoleClient) -> ConsoleClient:
    for address in MAILBOX_FULL:
        put_status(
            Channel.EMAIL, Address(address), AddressStatus.QUARANTINE, "mailbox_full", actor="seed"
        )
    for address, reason in ((UNKNOWN, "user_unknown"), (ELSEWHERE, "mailbox_full")):
        put_status(Channel.EMAIL, Address(address), AddressStatus.QUARANTINE, reason, actor="seed")
    return seeded


def _status(api: ApiCall, address: str) -> str:
    return str(api("GET", f"/v1/addresses/email/{address}")["json"]["status"])


def test_the_confirmation_counts_what_the_filter_covers(quarantined: ConsoleClient) -> None:
    quarantined.sign_in("ops")
    quarantined.get("/console/addresses?status=quarantine&domain=busy.example")

    by_domain = quarantined.post("/console/addresses/bulk-release", BUSY)
    by_reason = quarantined.post(
        "/console/addresses/bulk-release",
        {**BUSY, "filter_reason": "mailbox_full", "filter_domain": ""},
    )
    every = quarantined.post(
        "/console/addresses/bulk-release",
        {"filter_channel": "email", "filter_status": "quarantine"},
    )

    assert "Release 4 addresses?" in by_domain["body"]
    assert "Release 4 addresses?" in by_reason["body"]  # three here, one elsewhere
    assert "Release 6 addresses?" in every["body"]  # and the seeded one
    assert "every one of them" in every["body"]


def test_an_operator_releases_the_filtered_set_and_only_it(
    quarantined: ConsoleClient, api: ApiCall
) -> None:
    quarantined.sign_in("ops")
    quarantined.get("/console/addresses?status=quarantine&domain=busy.example")
    quarantined.post("/console/addresses/bulk-release", {**BUSY, "filter_reason": "mailbox_full"})

    done = quarantined.post(
        "/console/addresses/bulk-release/confirm",
        {**BUSY, "filter_reason": "mailbox_full", "reason": "the provider's outage is over"},
    )

    assert done["statusCode"] == 303
    assert "busy" not in location(done).replace("busy.example", "")
    assert "3 addresses released" in quarantined.get(location(done))["body"]
    assert [_status(api, a) for a in MAILBOX_FULL] == ["valid"] * 3
    assert _status(api, UNKNOWN) == "quarantine"
    assert _status(api, ELSEWHERE) == "quarantine"
    history = api("GET", f"/v1/addresses/email/{MAILBOX_FULL[0]}")["json"]["history"][0]
    assert history["actor"] == "console:ops"
    assert history["reason"] == "the provider's outage is over"


def test_a_bulk_release_without_a_reason_changes_nothing(
    quarantined: ConsoleClient, api: ApiCall
) -> None:
    quarantined.sign_in("ops")
    quarantined.get("/console/addresses")

    response = quarantined.post("/console/addresses/bulk-release/confirm", {**BUSY, "reason": "  "})

    assert response["statusCode"] == 422
    assert [_status(api, a) for a in MAILBOX_FULL] == ["quarantine"] * 3


def test_a_denylist_is_not_released_in_bulk(quarantined: ConsoleClient) -> None:
    quarantined.sign_in("ops")
    quarantined.get("/console/addresses?status=denylisted")

    response = quarantined.post(
        "/console/addresses/bulk-release", {**BUSY, "filter_status": "denylisted"}
    )

    assert response["statusCode"] == 422


@pytest.mark.parametrize("domain", ["busy\texample", "busy\u2028example", "x" * 254])
def test_a_filter_bulk_release_cannot_read_is_a_page(
    quarantined: ConsoleClient, domain: str
) -> None:
    quarantined.sign_in("ops")
    quarantined.get("/console/addresses")

    response = quarantined.post(
        "/console/addresses/bulk-release", {**BUSY, "filter_domain": domain}
    )

    assert response["statusCode"] == 422


def test_a_viewer_and_a_form_without_its_token_release_nothing(
    quarantined: ConsoleClient, api: ApiCall
) -> None:
    viewer = quarantined
    viewer.sign_in("watcher")
    page = viewer.get("/console/addresses?status=quarantine")["body"]
    assert "Release every address" not in page
    fields = {**BUSY, "reason": "r"}

    refused = [
        viewer.post("/console/addresses/bulk-release", BUSY),
        viewer.post("/console/addresses/bulk-release/confirm", fields),
    ]
    operator = ConsoleClient()
    operator.sign_in("ops")
    operator.get("/console/addresses")
    refused += [
        operator.post("/console/addresses/bulk-release/confirm", fields, csrf=False),
        operator.post(
            "/console/addresses/bulk-release/confirm", {**fields, "csrf": "x" * 43}, csrf=False
        ),
    ]

    assert [r["statusCode"] for r in refused] == [403] * 4
    assert re.search("Nothing was changed", refused[1]["body"])
    assert [_status(api, a) for a in MAILBOX_FULL] == ["quarantine"] * 3


@pytest.fixture
def outage(seeded: ConsoleClient, monkeypatch: pytest.MonkeyPatch) -> ConsoleClient:
    """30 soft bounces for example.com within minutes: the guard (at 20) holds them."""
    from quarantine import handler

    monkeypatch.setattr(handler, "policy", QuarantinePolicy(outage_min_failures=20))
    outage_of_example_com(FeedbackPath(), count=30)
    return seeded


HOLD = {"channel": "email", "domain": "example.com"}


def _held(api: ApiCall) -> int:
    return int(api("GET", "/v1/outages/email/example.com")["json"]["heldErrors"])


def test_the_holds_page_shows_each_hold_with_its_held_errors(
    outage: ConsoleClient, api: ApiCall
) -> None:
    outage.sign_in("watcher")
    held = _held(api)

    page = outage.get("/console/outages")

    assert page["statusCode"] == 200
    assert "example.com" in page["body"]
    assert f'<td class="num">{held}</td>' in page["body"]
    assert "Release…" not in page["body"]


def test_a_hold_still_looking_back_says_so_and_so_does_its_release(seeded: ConsoleClient) -> None:
    """The guard has not yet held every failure it counted before the hold: the list
    says since when, and the confirmation warns that ending the hold stops the search."""
    key = held_key(Channel.EMAIL, "slow.example")
    since = datetime(2026, 5, 4, 3, 21, tzinfo=UTC)
    hold_looking_back(key, since)
    seeded.sign_in("ops")

    listed = seeded.get("/console/outages")["body"]
    assert "being held, from 2026-05-04 03:21" in listed
    confirm = seeded.post(
        "/console/outages/confirm",
        {"channel": "email", "domain": "slow.example", "decision": "release"},
    )
    assert confirm["statusCode"] == 200
    assert (
        "has not yet found every failure of this domain it counted since 2026-05-04 03:21"
        in (confirm["body"])
    )
    assert "Releasing finishes the search first" in confirm["body"]
    applying = seeded.post(
        "/console/outages/confirm",
        {"channel": "email", "domain": "slow.example", "decision": "apply"},
    )
    assert "Applying stops the search" in applying["body"]

    domain_windows.stop_holding(key)
    stopped = seeded.get("/console/outages")["body"].partition("slow.example")[2]
    assert "not all held</strong>: some applied since 2026-05-04 03:21 still count" in stopped
    link = "/console/addresses?channel=email&amp;domain=slow.example\">the domain's addresses"
    assert link in stopped
    assert "Release…" in stopped  # a release goes on with the search
    assert "nothing held" not in stopped
    found = seeded.get("/console/addresses?channel=email&domain=slow.example")
    assert found["statusCode"] == 200
    assert 'value="slow.example"' in found["body"]


@pytest.mark.parametrize("another_runs_it", [True, False])
def test_a_release_goes_on_with_the_search_or_says_to_release_again(
    seeded: ConsoleClient, api: ApiCall, another_runs_it: bool
) -> None:
    """The search's lease is another function's (it is left to it: release again), or
    over (its starter ran out of pages: the release finishes it, and the hold goes)."""
    key = held_key(Channel.EMAIL, "search.example")
    look_back = hold_looking_back(key, datetime.now(UTC) - timedelta(hours=1))
    lease = look_back.lease + timedelta(minutes=1) if another_runs_it else datetime.now(UTC)
    assert domain_windows.lease_look_back(key, look_back, until=lease)
    seeded.sign_in("ops")
    seeded.get("/console/outages")

    done = seeded.post(
        "/console/outages/decide",
        {"channel": "email", "domain": "search.example", "decision": "release", "reason": "r"},
    )

    assert done["statusCode"] == 303
    assert ("searching=1" in location(done)) is another_runs_it
    page = seeded.get(location(done))["body"]
    unfinished = "The search for the failures counted before the hold is not finished"
    assert (unfinished in page) is another_runs_it
    assert ("search.example" in page) is another_runs_it
    shown = api("GET", "/v1/outages/email/search.example")
    assert (shown["statusCode"] == 200 and shown["json"]["holding"]) is another_runs_it


def test_a_hold_that_found_all_its_earlier_failures_says_so(seeded: ConsoleClient) -> None:
    key = held_key(Channel.EMAIL, "done.example")
    look_back = hold_looking_back(key, datetime.now(UTC) - timedelta(hours=1))
    assert domain_windows.end_look_back(key, look_back.lease)
    seeded.sign_in("watcher")

    row = seeded.get("/console/outages")["body"].partition("done.example")[2]

    assert "<td>all held</td>" in row
    assert "has not yet found" not in row


@pytest.mark.parametrize("decision", ["release", "apply"])
def test_an_operator_decides_a_hold_after_a_confirmation_with_its_count(
    outage: ConsoleClient, api: ApiCall, decision: str
) -> None:
    outage.sign_in("ops")
    outage.get("/console/outages")
    held = _held(api)

    confirm = outage.post("/console/outages/confirm", {**HOLD, "decision": decision})
    assert confirm["statusCode"] == 200
    assert f"{decision.capitalize()} {held} held errors?" in confirm["body"]
    assert _held(api) == held

    done = outage.post(
        "/console/outages/decide", {**HOLD, "decision": decision, "reason": "incident 42"}
    )

    assert done["statusCode"] == 303
    assert f"{held} held errors decided" in outage.get(location(done))["body"]
    assert api("GET", "/v1/outages")["json"]["items"] == []
    history = api("GET", "/v1/addresses/email/user000@example.com")["json"]["history"]
    decided = [e["detail"] for e in history if "decided_by" in (e.get("detail") or {})]
    assert decided
    assert decided[0]["decided_by"] == "console:ops"
    assert decided[0]["decision_reason"] == "incident 42"
    assert decided[0]["decision"] == {"release": "released", "apply": "applied"}[decision]


def test_a_hold_is_not_decided_by_a_viewer_without_a_reason_or_without_the_token(
    outage: ConsoleClient, api: ApiCall
) -> None:
    held = _held(api)
    outage.sign_in("watcher")
    outage.get("/console/outages")
    refused = [
        outage.post("/console/outages/confirm", {**HOLD, "decision": "release"}),
        outage.post("/console/outages/decide", {**HOLD, "decision": "release", "reason": "r"}),
    ]
    operator = ConsoleClient()
    operator.sign_in("ops")
    operator.get("/console/outages")
    fields = {**HOLD, "decision": "apply", "reason": "r"}
    refused += [
        operator.post("/console/outages/decide", fields, csrf=False),
        operator.post("/console/outages/decide", {**fields, "csrf": "x" * 43}, csrf=False),
    ]
    no_reason = operator.post("/console/outages/decide", {**fields, "reason": " "})
    unknown = operator.post(
        "/console/outages/confirm", {**HOLD, "domain": "quiet.example", "decision": "apply"}
    )

    assert [r["statusCode"] for r in refused] == [403] * 4
    assert no_reason["statusCode"] == 422
    assert unknown["statusCode"] == 404
    assert _held(api) == held


def _opted_out(api: ApiCall) -> None:
    response = api(
        "PATCH",
        f"/v1/profiles/{PROFILE}/consent",
        json_body={"noLongerContact": {"all": True}, "reason": "asked by phone"},
    )
    assert response["statusCode"] == 200


def test_an_operator_erases_a_profile_after_a_page_that_says_what_goes_and_what_stays(
    seeded: ConsoleClient, api: ApiCall
) -> None:
    _opted_out(api)
    seeded.sign_in("ops")
    assert "Erase this person" in seeded.get(f"/console/profiles/{PROFILE}")["body"]

    confirm = seeded.post(f"/console/profiles/{PROFILE}/erase")
    assert confirm["statusCode"] == 200
    assert "Kept" in confirm["body"]
    assert "its 2 addresses" in confirm["body"]
    assert api("GET", f"/v1/profiles/{PROFILE}/consent")["statusCode"] == 200

    done = seeded.post(f"/console/profiles/{PROFILE}/erase/confirm", {"reason": "request 2026-118"})

    assert done["statusCode"] == 303
    assert api("GET", f"/v1/profiles/{PROFILE}/consent")["statusCode"] == 410
    page = seeded.get(location(done))
    assert page["statusCode"] == 200
    assert "erased" in page["body"]
    assert "console:ops" in page["body"]
    assert "request 2026-118" in page["body"]
    assert "The chain of" in page["body"]
    assert EMAIL not in page["body"]
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td>", page["body"])
    assert rows == sorted(rows, key=int, reverse=True)  # newest first: the erasure on top
    assert len(rows) == 2


def test_an_erasure_without_a_reason_a_token_or_by_a_viewer_erases_nothing(
    seeded: ConsoleClient, api: ApiCall
) -> None:
    seeded.sign_in("watcher")
    assert "Erase this person" not in seeded.get(f"/console/profiles/{PROFILE}")["body"]
    refused = [
        seeded.post(f"/console/profiles/{PROFILE}/erase"),
        seeded.post(f"/console/profiles/{PROFILE}/erase/confirm", {"reason": "r"}),
    ]
    operator = ConsoleClient()
    operator.sign_in("ops")
    operator.get(f"/console/profiles/{PROFILE}")
    refused += [
        operator.post(f"/console/profiles/{PROFILE}/erase/confirm", {"reason": "r"}, csrf=False),
        operator.post(
            f"/console/profiles/{PROFILE}/erase/confirm",
            {"reason": "r", "csrf": "x" * 43},
            csrf=False,
        ),
    ]
    no_reason = operator.post(f"/console/profiles/{PROFILE}/erase/confirm", {"reason": " "})

    assert [r["statusCode"] for r in refused] == [403] * 4
    assert no_reason["statusCode"] == 422
    assert api("GET", f"/v1/profiles/{PROFILE}/consent")["statusCode"] == 200


def test_an_operator_lifts_an_erased_address_with_the_address_in_the_body_only(
    seeded: ConsoleClient, api: ApiCall
) -> None:
    _opted_out(api)
    erased = api("DELETE", f"/v1/profiles/{PROFILE}", json_body={"reason": "request"})
    assert erased["statusCode"] == 200
    seeded.sign_in("ops")
    seeded.get("/console/erased-addresses")
    fields = {"channel": "email", "address": f" {EMAIL.upper()} ", "reason": "owner asked again"}

    no_reason = seeded.post("/console/erased-addresses/lift", {**fields, "reason": ""})
    lifted = seeded.post("/console/erased-addresses/lift", fields)
    again = seeded.post("/console/erased-addresses/lift", fields)

    assert no_reason["statusCode"] == 422
    assert lifted["statusCode"] == 200
    assert "Lifted" in lifted["body"]
    assert again["statusCode"] == 404


def test_a_viewer_lifts_nothing(seeded: ConsoleClient, api: ApiCall) -> None:
    _opted_out(api)
    api("DELETE", f"/v1/profiles/{PROFILE}", json_body={"reason": "request"})
    seeded.sign_in("watcher")
    assert "Lift the suppression" not in seeded.get("/console/erased-addresses")["body"]

    refused = seeded.post(
        "/console/erased-addresses/lift", {"channel": "email", "address": EMAIL, "reason": "r"}
    )

    assert refused["statusCode"] == 403
    operator = ConsoleClient()
    operator.sign_in("ops")
    operator.get("/console/erased-addresses")
    still = operator.post(
        "/console/erased-addresses/lift", {"channel": "email", "address": EMAIL, "reason": "r"}
    )
    assert still["statusCode"] == 200
