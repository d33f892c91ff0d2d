"""GET /v1/profiles/{profileId}/consent through the consent handler on moto."""

import json

import pytest

from consentry.consent import profile_store
from consentry.consent.rules import ConsentChange, Scope
from consentry.core.types import Action, Channel, ProfileId, Source
from tests.integration.conftest import ConsentCall

PROFILE = ProfileId("p-200")


def test_an_unknown_profile_is_404_with_a_message(consent_api: ConsentCall) -> None:
    response = consent_api("get_consent", profile="nobody")

    assert response["statusCode"] == 404
    assert "not found" in json.loads(response["body"])["message"]


def test_the_consent_state_and_latest_events_are_returned(consent_api: ConsentCall) -> None:
    profile_store.register_profile(PROFILE, {Channel.EMAIL: "jane@example.com"}, "nl")
    profile_store.record_change(
        PROFILE,
        ConsentChange(
            scope=Scope.channel(Channel.EMAIL),
            action=Action.OPT_OUT,
            source=Source.ONE_CLICK,
            actor="recipient",
        ),
    )

    response = consent_api("get_consent", profile=PROFILE)

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["profileId"] == PROFILE
    assert body["noLongerContact"] == {
        "all": False,
        "email": True,
        "sms": False,
        "phone": False,
        "direct_mail": False,
        "push": False,
    }
    assert body["locale"] == "nl"
    assert body["addresses"] == {"email": "jane@example.com"}
    (event,) = body["latestEvents"]
    assert (event["source"], event["scope"], event["seq"]) == ("one_click", "channel:email", 1)


@pytest.mark.parametrize("profile", ["has space", "x" * 129, "semi;colon"])
def test_a_malformed_profile_id_is_422(consent_api: ConsentCall, profile: str) -> None:
    response = consent_api("get_consent", profile=profile)

    assert response["statusCode"] == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/profiles/p-1/consent", "{not json"),
        ("GET", "/v1/nothing-here", None),
        ("DELETE", "/v1/profiles/p-1/consent", None),
    ],
)
def test_bad_requests_are_4xx_never_5xx(
    consent_api: ConsentCall, method: str, path: str, body: str | None
) -> None:
    response = consent_api("get_consent", method=method, path=path, body=body)

    assert 400 <= response["statusCode"] < 500


@pytest.mark.parametrize(
    ("content_type", "body", "is_base64", "status"),
    [
        ("multipart/form-data", '{"noLongerContact": {"all": true}, "reason": "r"}', False, 415),
        ("text/plain", "hello", False, 415),
        ("application/json", "/w==", True, 422),
        ("application/json", "not base64!", True, 422),
    ],
)
def test_a_body_the_api_cannot_read_is_4xx_and_changes_nothing(
    consent_api: ConsentCall, content_type: str, body: str | None, is_base64: bool, status: int
) -> None:
    response = consent_api(
        "get_consent",
        method="PATCH",
        path="/v1/profiles/p-1/consent",
        body=body,
        content_type=content_type,
        is_base64=is_base64,
    )

    assert response["statusCode"] == status
    assert profile_store.find_consent(ProfileId("p-1")) is None
