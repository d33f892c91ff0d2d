"""/v1/profiles: registration, consent changes with If-Match, history, verify, export."""

from collections.abc import Mapping
from typing import Any

import pytest

from consentry.consent.tables import ConsentEventModel
from consentry.consent.tokens import LinkSigner
from tests.integration.conftest import ApiCall, Configure, LandingCall
from tests.integration.helpers import one_click

OPERATOR = "arn:aws:iam::123456789012:user/operator"


def register(
    api: ApiCall, profile: str = "p-1", addresses: dict[str, str] | None = None, locale: str = "nl"
) -> dict[str, Any]:
    return api(
        "PUT",
        f"/v1/profiles/{profile}",
        json_body={"addresses": addresses or {"email": " Jane@Example.COM "}, "locale": locale},
    )


def patch(
    api: ApiCall,
    profile: str = "p-1",
    flags: dict[str, bool] | None = None,
    reason: str = "asked by phone",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return api(
        "PATCH",
        f"/v1/profiles/{profile}/consent",
        json_body={"noLongerContact": flags or {"email": True}, "reason": reason},
        headers=headers,
    )


def test_registering_normalizes_addresses(api: ApiCall) -> None:
    response = register(api, addresses={"email": " Jane@Example.COM ", "sms": "+31 6 1234 5678"})

    assert response["statusCode"] == 201
    assert response["json"]["addresses"] == {"email": "jane@example.com", "sms": "+31612345678"}
    assert response["json"]["locale"] == "nl"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"addresses": {"email": "not-an-address"}}, "addresses.email"),
        ({"addresses": {"sms": "12"}}, "addresses.sms"),
        ({"addresses": {"fax": "1"}}, None),
        ({"locale": "Dutch"}, None),
        ({"extra": True}, None),
    ],
)
def test_bad_profiles_are_422_and_write_nothing(
    api: ApiCall, body: dict[str, Any], field: str | None
) -> None:
    response = api("PUT", "/v1/profiles/p-1", json_body=body)

    assert response["statusCode"] == 422
    if field:
        assert response["json"]["field"] == field
    assert api("GET", "/v1/profiles/p-1/consent")["statusCode"] == 404


def test_addresses_are_kept_as_they_are_sent_and_as_the_sender_allows(
    api: ApiCall, configure: Configure
) -> None:
    """An internationalized domain is kept in IDNA form; a local part with non-ASCII
    letters needs a sender with SMTPUTF8; a landline is a valid SMS address as a key."""
    idna = register(api, "p-1", {"email": "Jane@Bücher.de", "sms": "+44 20 7946 0958"})
    refused = register(api, "p-2", {"email": "Üser@example.com"})
    configure(sender_smtputf8="true")
    allowed = register(api, "p-2", {"email": "Üser@example.com"})

    assert idna["json"]["addresses"] == {"email": "jane@xn--bcher-kva.de", "sms": "+442079460958"}
    assert (refused["statusCode"], refused["json"]["field"]) == (422, "addresses.email")
    assert (allowed["statusCode"], allowed["json"]["addresses"]) == (
        201,
        {"email": "üser@example.com"},
    )


def test_a_patch_changes_only_the_channels_it_names_with_the_callers_identity(api: ApiCall) -> None:
    register(api)

    response = patch(api, flags={"email": True, "sms": True}, headers=None)

    assert response["statusCode"] == 200
    flags = response["json"]["noLongerContact"]
    assert (flags["email"], flags["sms"], flags["all"], flags["push"]) == (True, True, False, False)
    events = response["json"]["latestEvents"]
    assert [e["scope"] for e in events] == ["channel:sms", "channel:email"]
    assert {e["actor"] for e in events} == {OPERATOR}
    assert {e["reason"] for e in events} == {"asked by phone"}
    assert {e["source"] for e in events} == {"operator"}


def test_the_actor_is_never_taken_from_the_body(api: ApiCall) -> None:
    register(api)

    response = api(
        "PATCH",
        "/v1/profiles/p-1/consent",
        json_body={"noLongerContact": {"all": True}, "reason": "r", "actor": "someone"},
    )

    assert response["statusCode"] == 422


def test_if_match_with_the_current_version_applies(api: ApiCall) -> None:
    version = register(api)["json"]["version"]

    response = patch(api, headers={"If-Match": f'"{version}"'})

    assert response["statusCode"] == 200
    assert response["json"]["version"] == version + 1
    assert response["multiValueHeaders"]["ETag"] == [f'"{version + 1}"']


def test_if_match_with_a_stale_version_is_412_and_writes_nothing(api: ApiCall) -> None:
    version = register(api)["json"]["version"]
    patch(api, flags={"sms": True})

    response = patch(api, headers={"If-Match": str(version)})

    assert response["statusCode"] == 412
    assert api("GET", "/v1/profiles/p-1/consent")["json"]["noLongerContact"]["email"] is False


@pytest.mark.parametrize(
    ("body", "field_part"),
    [
        ({"noLongerContact": {"email": True}}, "reason"),
        ({"noLongerContact": {}, "reason": "r"}, "noLongerContact"),
        ({"noLongerContact": {"fax": True}, "reason": "r"}, "fax"),
        ({"noLongerContact": {"email": "yes please"}, "reason": "r"}, "email"),
        ({"noLongerContact": {"email": True}, "reason": "   "}, "reason"),
    ],
)
def test_bad_patches_are_422_naming_the_field(
    api: ApiCall, body: dict[str, Any], field_part: str
) -> None:
    register(api)

    response = api("PATCH", "/v1/profiles/p-1/consent", json_body=body)

    assert response["statusCode"] == 422
    assert field_part in response["body"]
    assert api("GET", "/v1/profiles/p-1/consent")["json"]["latestEvents"] == []


def test_invalid_json_is_422(api: ApiCall) -> None:
    response = api(
        "PATCH",
        "/v1/profiles/p-1/consent",
        body="{nope",
        headers={"Content-Type": "application/json"},
    )

    assert response["statusCode"] == 422


def test_a_bad_if_match_is_422(api: ApiCall) -> None:
    register(api)

    response = patch(api, headers={"If-Match": "latest"})

    assert (response["statusCode"], response["json"]["field"]) == (422, "If-Match")


def test_a_retried_patch_with_an_idempotency_key_writes_one_event(api: ApiCall) -> None:
    register(api)
    key = {"Idempotency-Key": "req-42"}

    first = patch(api, flags={"all": True}, headers=key)
    patch(api, flags={"all": False}, reason="someone else", headers={"Idempotency-Key": "other"})
    second = patch(api, flags={"all": True}, headers=key)

    assert second["statusCode"] == first["statusCode"] == 200
    assert second["json"] == first["json"]
    assert len(list(ConsentEventModel.query("p-1"))) == 2


def test_an_idempotency_key_reused_for_another_request_is_422(api: ApiCall) -> None:
    register(api)
    patch(api, flags={"all": True}, headers={"Idempotency-Key": "k"})

    response = patch(api, flags={"sms": True}, headers={"Idempotency-Key": "k"})

    assert (response["statusCode"], response["json"]["field"]) == (422, "Idempotency-Key")


def test_history_is_paginated_oldest_first(api: ApiCall) -> None:
    register(api)
    for i, channel in enumerate(["email", "sms", "phone", "push", "direct_mail"]):
        patch(api, flags={channel: True}, reason=f"r{i}")

    pages, cursor = [], None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        body = api("GET", "/v1/profiles/p-1/history", query=query)["json"]
        pages.append([e["seq"] for e in body["items"]])
        cursor = body["nextCursor"]
        if cursor is None:
            break

    assert [seq for page in pages for seq in page] == [1, 2, 3, 4, 5]
    assert max(len(page) for page in pages) == 2


@pytest.mark.parametrize(
    "query", [{"limit": "0"}, {"limit": "1000"}, {"cursor": "%%%"}, {"cursor": "eyJhIjoxfQ"}]
)
def test_bad_paging_is_422(api: ApiCall, query: dict[str, str]) -> None:
    register(api)

    assert api("GET", "/v1/profiles/p-1/history", query=query)["statusCode"] == 422


def test_an_intact_history_verifies(api: ApiCall) -> None:
    register(api)
    patch(api, flags={"email": True})
    patch(api, flags={"email": False})

    body = api("GET", "/v1/profiles/p-1/history/verify")["json"]

    assert (body["valid"], body["events"], body["firstBrokenSeq"]) == (True, 2, None)


@pytest.mark.parametrize("field", ["actor", "reason", "scope", "action", "at", "hash"])
def test_altering_any_stored_event_makes_verify_name_it(api: ApiCall, field: str) -> None:
    register(api)
    for flags in ({"email": True}, {"sms": True}, {"all": True}):
        patch(api, flags=flags)
    item = ConsentEventModel.get("p-1", 2)
    value = {
        "actor": "mallory",
        "reason": "forged",
        "scope": "channel:push",
        "action": "opt_in",
        "at": item.at.replace(year=2020),
        "hash": "0" * 64,
    }[field]
    setattr(item, field, value)
    item.save()

    body = api("GET", "/v1/profiles/p-1/history/verify")["json"]

    assert (body["valid"], body["firstBrokenSeq"]) == (False, 2)


def test_a_removed_newest_event_is_named_by_verify(api: ApiCall) -> None:
    register(api)
    patch(api, flags={"email": True})
    patch(api, flags={"sms": True})
    ConsentEventModel.get("p-1", 2).delete()

    body = api("GET", "/v1/profiles/p-1/history/verify")["json"]

    assert (body["valid"], body["firstBrokenSeq"]) == (False, 2)


def test_export_holds_everything_about_the_profile(
    api: ApiCall, landing: LandingCall, signer: LinkSigner
) -> None:
    register(api, addresses={"email": "jane@example.com", "sms": "+31612345678"})
    one_click(landing, signer, "p-1")

    body = api("GET", "/v1/profiles/p-1/export")["json"]

    assert body["consent"]["profileId"] == "p-1"
    assert [e["source"] for e in body["events"]] == ["one_click"]
    assert {(a["channel"], a["status"]) for a in body["addresses"]} == {
        ("email", "denylisted"),
        ("sms", "denylisted"),
    }
    assert body["subscriptions"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/v1/profiles/nobody/history",
        "/v1/profiles/nobody/history/verify",
        "/v1/profiles/nobody/export",
    ],
)
def test_unknown_profiles_are_404(api: ApiCall, path: str) -> None:
    assert api("GET", path)["statusCode"] == 404


def test_a_cursor_of_another_profiles_history_is_refused(api: ApiCall) -> None:
    for profile in ("p-1", "p-2"):
        register(api, profile)
        patch(api, profile, flags={"email": True})
        patch(api, profile, flags={"sms": True})
    cursor = api("GET", "/v1/profiles/p-1/history", query={"limit": "1"})["json"]["nextCursor"]

    response = api("GET", "/v1/profiles/p-2/history", query={"cursor": cursor})

    assert (response["statusCode"], response["json"]["field"]) == (422, "cursor")
