"""The console's pages, signed in, on the same logic and data as /v1: a profile and its
proof, a change of consent, the quarantine list, an address and its release, a
delivery's funnel. A viewer may look at all of it and change none of it."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.addresses.decisions import put_status
from consentry.addresses.status import AddressStatus
from consentry.analysis.tables import RECORD, AnalysisModel
from consentry.analysis.terms import AnalysisStatus
from consentry.consent.profile_store import get_consent, record_change
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.types import Action, Address, Channel, Source
from tests.integration.conftest import ApiCall
from tests.integration.console_support import (
    EMAIL,
    PROFILE,
    QUARANTINED,
    ConsoleClient,
    console_event,
    location,
)


def signed_in(console: ConsoleClient, username: str) -> ConsoleClient:
    console.sign_in(username)
    return console


def test_every_page_answers_an_operator(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "ops")
    paths = [
        "/console/",
        "/console/profiles",
        f"/console/profiles/{PROFILE}",
        f"/console/profiles/{PROFILE}/export",
        "/console/addresses",
        "/console/addresses?channel=sms&status=denylisted",
        "/console/addresses/csv?status=quarantine",
        "/console/deliveries",
        "/console/deliveries/d-console-1",
        "/console/services",
        "/console/imports",
    ]
    for path in paths:
        response = console.get(path)

        assert response["statusCode"] == 200, path
        assert response["multiValueHeaders"]["Content-Security-Policy"], path


def test_the_dashboard_lists_the_latest_analyses(seeded: ConsoleClient) -> None:
    body = signed_in(seeded, "watcher").get("/console/")["body"]

    assert "d-console-1" in body
    assert "Quarantined address: 60" in body
    assert "Opt-ins and opt-outs" in body


def test_a_profile_shows_its_consent_addresses_and_verified_history(seeded: ConsoleClient) -> None:
    body = signed_in(seeded, "ops").get(f"/console/profiles/{PROFILE}")["body"]

    assert EMAIL in body
    assert "The chain of 0 events verifies" in body
    assert "Record the change" in body


def test_an_operator_changes_consent_and_the_history_names_them(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "ops")
    console.get(f"/console/profiles/{PROFILE}")
    version = get_consent(PROFILE).version

    response = console.post(
        f"/console/profiles/{PROFILE}/consent",
        {
            "scope": "email",
            "choice": "opt_out",
            "reason": "asked by phone",
            "version": str(version),
        },
    )

    assert response["statusCode"] == 303
    assert location(response) == f"/console/profiles/{PROFILE}?changed=1"
    state = get_consent(PROFILE)
    assert Channel.EMAIL in state.opt_out_channels
    page = console.get(location(response))["body"]
    assert "console:ops" in page
    assert "asked by phone" in page
    assert "The chain of 1 events verifies" in page


def test_a_change_for_a_version_that_is_gone_changes_nothing(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "ops")
    console.get(f"/console/profiles/{PROFILE}")
    version = get_consent(PROFILE).version

    response = console.post(
        f"/console/profiles/{PROFILE}/consent",
        {"scope": "all", "choice": "opt_out", "reason": "r", "version": str(version + 1)},
    )

    assert response["statusCode"] == 412
    assert get_consent(PROFILE).version == version


@pytest.mark.parametrize(
    "fields",
    [
        {"scope": "fax", "choice": "opt_out", "reason": "r"},
        {"scope": "email", "choice": "maybe", "reason": "r"},
        {"scope": "email", "choice": "opt_out", "reason": "   "},
        {"scope": "email", "choice": "opt_out", "reason": "x" * 501},
    ],
)
def test_a_bad_change_form_is_a_422_page_and_changes_nothing(
    seeded: ConsoleClient, fields: dict[str, str]
) -> None:
    console = signed_in(seeded, "ops")
    console.get(f"/console/profiles/{PROFILE}")
    version = get_consent(PROFILE).version

    response = console.post(
        f"/console/profiles/{PROFILE}/consent", {**fields, "version": str(version)}
    )

    assert response["statusCode"] == 422
    assert get_consent(PROFILE).version == version


def test_a_viewer_is_refused_every_change_and_nothing_changes(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "watcher")
    page = console.get(f"/console/profiles/{PROFILE}")["body"]
    assert "Record the change" not in page
    version = get_consent(PROFILE).version
    reference = _reference_of(console, QUARANTINED)

    changes = [
        (
            f"/console/profiles/{PROFILE}/consent",
            {"scope": "all", "choice": "opt_out", "reason": "r", "version": str(version)},
        ),
        ("/console/addresses/release", {"reference": reference}),
        ("/console/addresses/release/confirm", {"reference": reference, "reason": "r"}),
    ]
    for path, fields in changes:
        response = console.post(path, fields)

        assert response["statusCode"] == 403, path
        assert "Nothing was changed" in response["body"]
    assert get_consent(PROFILE).version == version
    assert "quarantine" in console.get(f"/console/addresses/view/{reference}")["body"]


def test_a_change_without_the_sessions_csrf_token_is_refused(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "ops")
    version = get_consent(PROFILE).version
    fields = {"scope": "all", "choice": "opt_out", "reason": "r", "version": str(version)}

    missing = console.post(f"/console/profiles/{PROFILE}/consent", fields, csrf=False)
    forged = console.post(
        f"/console/profiles/{PROFILE}/consent", {**fields, "csrf": "x" * 43}, csrf=False
    )
    other = ConsoleClient()
    other.sign_in("ops")
    other.csrf = console.csrf  # another session's token
    crossed = other.post(f"/console/profiles/{PROFILE}/consent", fields)

    assert [r["statusCode"] for r in (missing, forged, crossed)] == [403, 403, 403]
    assert get_consent(PROFILE).version == version


def _reference_of(console: ConsoleClient, address: str) -> str:
    console.get("/console/profiles")
    response = console.post("/console/search", {"channel": "email", "address": address})
    assert response["statusCode"] == 303
    return location(response).rsplit("/", 1)[1]


def test_an_address_search_never_puts_the_address_in_a_url(seeded: ConsoleClient) -> None:
    console = signed_in(seeded, "ops")
    console.get("/console/profiles")

    response = console.post(
        "/console/search", {"channel": "email", "address": " Gone.Mailbox@Example.org "}
    )

    assert response["statusCode"] == 303
    target = location(response)
    assert "gone" not in target.lower()
    assert "example" not in target.lower()
    page = console.get(target)["body"]
    assert QUARANTINED in page
    assert "user_unknown" in page


def test_the_quarantine_list_and_its_csv_hold_the_address_but_its_links_do_not(
    seeded: ConsoleClient,
) -> None:
    console = signed_in(seeded, "watcher")

    listed = console.get("/console/addresses?status=quarantine&domain=example.org")
    csv = console.get("/console/addresses/csv?status=quarantine")

    assert QUARANTINED in listed["body"]
    assert f'href="/console/addresses/view/{QUARANTINED}' not in listed["body"]
    assert csv["multiValueHeaders"]["Content-Type"][0].startswith("text/csv")
    assert QUARANTINED in csv["body"]
    assert "attachment" in csv["multiValueHeaders"]["Content-Disposition"][0]


def test_an_operator_releases_an_address_after_a_confirmation(
    seeded: ConsoleClient, api: ApiCall
) -> None:
    console = signed_in(seeded, "ops")
    reference = _reference_of(console, QUARANTINED)
    console.get(f"/console/addresses/view/{reference}")

    confirm = console.post("/console/addresses/release", {"reference": reference})
    assert confirm["statusCode"] == 200
    assert "Release 1 address?" in confirm["body"]
    assert api("GET", f"/v1/addresses/email/{QUARANTINED}")["json"]["status"] == "quarantine"

    done = console.post(
        "/console/addresses/release/confirm",
        {"reference": reference, "reason": "mailbox exists again"},
    )

    assert done["statusCode"] == 303
    released = api("GET", f"/v1/addresses/email/{QUARANTINED}")["json"]
    assert released["status"] == "valid"
    assert released["history"][0]["actor"] == "console:ops"


def test_a_delivery_page_draws_its_funnel_with_the_numbers_in_a_table(
    seeded: ConsoleClient,
) -> None:
    body = signed_in(seeded, "watcher").get("/console/deliveries/d-console-1")["body"]

    assert "<svg" in body
    assert "Quarantined address" in body
    assert "1,000" in body
    assert "900" in body
    assert 'style="' not in body


def test_explaining_a_row_of_an_analysis_without_a_result_is_a_page(seeded: ConsoleClient) -> None:
    AnalysisModel(
        "d-running", RECORD, status=AnalysisStatus.RUNNING.value, execution_arn="arn:x", request={}
    ).save()
    console = signed_in(seeded, "watcher")
    console.get("/console/deliveries/d-running")

    response = console.post("/console/deliveries/d-running/explain", {"address": EMAIL})

    assert response["statusCode"] == 409


def _status(response: dict[str, Any]) -> int:
    return int(response["statusCode"])


@pytest.mark.parametrize(
    "path",
    [
        "/console/profiles/" + "p" * 5000,
        "/console/profiles/%00%ff",
        "/console/profiles/a b/export",
        "/console/deliveries/" + "d" * 300,
        "/console/addresses/view/not-a-reference",
        "/console/addresses/view/c1.AAAA",
        "/console/addresses?status=valid",
        "/console/addresses?channel=fax",
        "/console/addresses?cursor=c1.garbage",
        "/console/profiles?profileId=%20",
        "/console/deliveries?deliveryId=a/b",
        "/console/no/such/page",
        "/console/services?cursor=c1.garbage",
        "/console/services/..%2f",
        "/console/charts/..%2fhandler.py",
        "/console/imports/..%2f",
        "/console/imports/%ff%fe",
        "/console/assets/../handler.py",
    ],
)
def test_odd_paths_and_queries_are_pages_never_server_errors(
    seeded: ConsoleClient, path: str
) -> None:
    console = signed_in(seeded, "ops")

    assert _status(console.get(path)) < 500


@pytest.mark.parametrize(
    ("body", "changes"),
    [
        ("%ff%fe=%ff", {}),
        ("csrf=" + "a" * 70000, {}),
        ("\udcff", {}),
        ("//////", {"is_base64": True}),
        ("gA==", {"is_base64": True}),
        ("a=1&" * 500, {}),
        ('{"scope": "all"}', {"content_type": "application/json"}),
    ],
)
def test_malformed_bodies_are_refused_and_change_nothing(
    seeded: ConsoleClient, body: str, changes: dict[str, Any]
) -> None:
    console = signed_in(seeded, "ops")
    version = get_consent(PROFILE).version
    for path in (
        f"/console/profiles/{PROFILE}/consent",
        "/console/sign-in",
        "/console/search",
        "/console/sign-out",
    ):
        assert _status(console.post_raw(path, body, **changes)) < 500, path
    assert get_consent(PROFILE).version == version


def test_an_address_denylisted_by_its_owners_opt_out_links_to_the_profile(
    seeded: ConsoleClient,
) -> None:
    record_change(
        PROFILE,
        ConsentChange(
            scope=Scope.channel(Channel.EMAIL),
            action=Action.OPT_OUT,
            source=Source.LANDING,
            actor="recipient",
        ),
        owner_denylists=True,
    )
    console = signed_in(seeded, "watcher")

    page = console.get(location(_search(console, EMAIL)))["body"]

    assert "denylisted" in page
    assert f'href="/console/profiles/{PROFILE}"' in page


def test_the_csv_keeps_a_spreadsheet_from_running_a_cell(seeded: ConsoleClient) -> None:
    put_status(
        Channel.EMAIL, Address("=cmd@example.org"), AddressStatus.QUARANTINE, "=1+1", actor="t"
    )
    put_status(
        Channel.SMS, Address("+31612345678"), AddressStatus.DENYLISTED, "complaint", actor="t"
    )
    console = signed_in(seeded, "watcher")

    email = console.get("/console/addresses/csv?status=quarantine")["body"]
    sms = console.get("/console/addresses/csv?channel=sms&status=denylisted")["body"]

    assert "'=cmd@example.org" in email
    assert "'=1+1" in email
    assert ",+31612345678," in sms


def _search(console: ConsoleClient, address: str) -> dict[str, Any]:
    console.get("/console/profiles")
    return console.post("/console/search", {"channel": "email", "address": address})


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    tail=st.text(max_size=300).filter(lambda text: "?" not in text and "#" not in text),
    body=st.binary(max_size=2000),
)
def test_any_path_and_any_posted_bytes_are_answered_without_a_server_error(
    seeded: ConsoleClient, tail: str, body: bytes
) -> None:
    console = signed_in(seeded, "ops") if not seeded.cookies.get("consentry_console") else seeded
    version = get_consent(PROFILE).version

    got = console.send(console_event("GET", "/console/" + tail, cookies=console.cookies))
    posted = console.send(
        console_event(
            "POST",
            f"/console/profiles/{PROFILE}/consent",
            body=base64.b64encode(body).decode(),
            is_base64=True,
            cookies=console.cookies,
        )
    )

    assert got["statusCode"] < 500
    assert posted["statusCode"] < 500
    assert get_consent(PROFILE).version == version
