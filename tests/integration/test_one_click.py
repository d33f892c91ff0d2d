"""The RFC 8058 one-click unsubscribe, through the landing handler on moto."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from consentry.consent import profile_store
from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkClaims, LinkSigner
from consentry.core.types import Channel, DeliveryId, ProfileId
from tests.integration.conftest import ApiCall, LandingCall

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PROFILE = ProfileId("p-100")
BOUNDARY = "xYzZY"


@pytest.fixture
def token(signer: LinkSigner) -> str:
    return signer.sign(
        LinkClaims(profile_id=PROFILE, scope=Scope.all(), delivery_id=DeliveryId("d-7"))
    )


def test_one_click_records_the_opt_out_with_its_event(landing: LandingCall, token: str) -> None:
    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 200
    assert "Location" not in response["multiValueHeaders"]
    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_all
    (event,) = profile_store.latest_events(PROFILE, 10)
    assert (event.action, event.source, event.actor) == ("opt_out", "one_click", "recipient")
    assert (event.scope, event.delivery_id, event.ip) == ("all", "d-7", "203.0.113.7")
    assert event.user_agent is not None
    assert event.user_agent.startswith("Mozilla/5.0")


def test_a_repeated_one_click_changes_nothing_more(landing: LandingCall, token: str) -> None:
    landing("one_click_post", token=token)
    version = profile_store.get_consent(PROFILE).version

    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 200
    assert profile_store.get_consent(PROFILE).version == version
    assert len(profile_store.latest_events(PROFILE, 10)) == 1


def test_multipart_one_click_bodies_are_accepted(landing: LandingCall, token: str) -> None:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        f"One-Click\r\n--{BOUNDARY}--\r\n"
    )

    response = landing(
        "one_click_post",
        token=token,
        body=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )

    assert response["statusCode"] == 200
    assert profile_store.get_consent(PROFILE).opt_out_all


def test_a_base64_encoded_body_is_decoded(landing: LandingCall, token: str) -> None:
    body = base64.b64encode(b"List-Unsubscribe=One-Click").decode()

    response = landing("one_click_post", token=token, body=body, is_base64=True)

    assert response["statusCode"] == 200
    assert profile_store.get_consent(PROFILE).opt_out_all


def test_a_channel_link_opts_out_of_that_channel_only(
    landing: LandingCall, signer: LinkSigner
) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.channel(Channel.SMS)))

    landing("one_click_post", token=token)

    state = profile_store.get_consent(PROFILE)
    assert state.opt_out_channels == {Channel.SMS}
    assert not state.opt_out_all


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("", "application/x-www-form-urlencoded"),
        ("List-Unsubscribe=Yes", "application/x-www-form-urlencoded"),
        ('{"List-Unsubscribe":"One-Click"}', "application/json"),
        ("!!!not-base64", None),
    ],
)
def test_any_other_body_is_refused_and_writes_nothing(
    landing: LandingCall, token: str, body: str, content_type: str | None
) -> None:
    response = landing(
        "one_click_post",
        token=token,
        body=body,
        content_type=content_type or "application/x-www-form-urlencoded",
        is_base64=content_type is None,
    )

    assert response["statusCode"] == 400
    assert "List-Unsubscribe=One-Click" in response["body"]
    assert profile_store.find_consent(PROFILE) is None


def test_a_tampered_token_is_refused_and_writes_nothing(landing: LandingCall, token: str) -> None:
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = landing("one_click_post", token=tampered)

    assert response["statusCode"] == 400
    assert "not valid" in response["body"]
    assert profile_store.find_consent(PROFILE) is None


def test_a_token_of_an_unknown_key_is_refused(landing: LandingCall, token: str) -> None:
    response = landing("one_click_post", token="k9" + token[2:])

    assert response["statusCode"] == 400
    assert profile_store.find_consent(PROFILE) is None


def test_an_expired_token_is_refused_and_writes_nothing(
    landing: LandingCall, signer: LinkSigner
) -> None:
    issued = signer_clock_now() - timedelta(days=91)
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.all(), issued_at=issued))

    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 410
    assert "expired" in response["body"]
    assert profile_store.find_consent(PROFILE) is None


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_opening_the_link_changes_nothing(landing: LandingCall, token: str, method: str) -> None:
    response = landing("one_click_post", token=token, method=method, body=None)

    assert response["statusCode"] == 200
    assert profile_store.find_consent(PROFILE) is None


def test_the_page_behind_the_link_offers_the_unsubscribe_form(
    landing: LandingCall, token: str
) -> None:
    response = landing("one_click_post", token=token, method="GET", body=None)

    assert 'method="post"' in response["body"]
    assert f'action="/prod/p/{token}/unsubscribe"' in response["body"]
    assert 'name="csrf"' in response["body"]


def test_landing_responses_carry_the_security_headers(landing: LandingCall, token: str) -> None:
    response = landing("one_click_post", token=token)

    headers = response["multiValueHeaders"]
    assert headers["Cache-Control"] == ["no-store"]
    assert headers["Referrer-Policy"] == ["no-referrer"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"][0]


def test_an_unknown_page_is_a_friendly_404(landing: LandingCall, token: str) -> None:
    response = landing("one_click_post", token=token, path="/u/a/b/c", method="GET", body=None)

    assert response["statusCode"] == 404
    assert "text/html" in response["multiValueHeaders"]["Content-Type"][0]


def test_a_store_outage_is_a_503_page_not_a_crash(
    landing: LandingCall, token: str, dynamodb: DynamoDBClient, table_names: dict[str, str]
) -> None:
    dynamodb.delete_table(TableName=table_names["ProfilesTable"])

    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 503


def signer_clock_now() -> datetime:
    from consentry.core.clock import utc_now

    return utc_now()


def test_a_service_link_unsubscribes_from_that_service(
    landing: LandingCall, signer: LinkSigner, api: ApiCall
) -> None:
    service = api(
        "POST",
        "/v1/services",
        json_body={"name": "news", "label": "News", "publicLabel": "News", "channel": "email"},
    )["json"]["serviceId"]
    api(
        "PUT",
        f"/v1/services/{service}/subscriptions/{PROFILE}",
        json_body={"status": "subscribed", "reason": "form"},
    )
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.service(service)))

    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 200
    subscribers = api("GET", f"/v1/services/{service}/subscribers")["json"]["items"]
    assert [s["status"] for s in subscribers] == ["unsubscribed"]
    assert not profile_store.get_consent(PROFILE).opted_out


def test_a_link_to_a_service_that_no_longer_exists_is_a_page_not_a_crash(
    landing: LandingCall, signer: LinkSigner
) -> None:
    token = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.service("svc-gone")))

    response = landing("one_click_post", token=token)

    assert response["statusCode"] == 400
    assert profile_store.find_consent(PROFILE) is None
