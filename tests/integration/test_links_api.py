"""POST /v1/links: the links and List-Unsubscribe headers of a delivery's messages."""

from datetime import timedelta
from typing import Any

import pytest

from consentry.consent.rules import Scope
from consentry.consent.tokens import LinkSigner
from consentry.core.types import Channel, ScopeKind
from tests.integration.conftest import ApiCall, Configure

API_HOST = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


def mint(api: ApiCall, **body: Any) -> dict[str, Any]:
    return api("POST", "/v1/links", json_body={"deliveryId": "d-9", **body})


def test_each_recipient_gets_its_links_and_headers_on_the_api_it_called(
    api: ApiCall, signer: LinkSigner
) -> None:
    response = mint(
        api,
        scope="channel:email",
        recipients=[{"profileId": "p-1"}, {"profileId": "p-2", "scope": "all"}],
    )

    assert response["statusCode"] == 200
    first, second = response["json"]["items"]
    token = first["preferencesUrl"].removeprefix(f"{API_HOST}/p/")
    assert first["unsubscribeUrl"] == f"{API_HOST}/p/{token}/unsubscribe"
    assert first["oneClickUrl"] == f"{API_HOST}/u/{token}"
    assert first["headers"] == {
        "List-Unsubscribe": f"<{API_HOST}/u/{token}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    claims = signer.verify(token)
    assert (claims.profile_id, claims.scope, claims.delivery_id) == (
        "p-1",
        Scope.channel(Channel.EMAIL),
        "d-9",
    )
    assert signer.verify(second["oneClickUrl"].rsplit("/", 1)[1]).scope == Scope.all()
    issued = claims.issued_at
    assert issued is not None
    assert first["expiresAt"].startswith((issued + timedelta(days=90)).date().isoformat())


def test_a_configured_public_base_url_is_used_instead(api: ApiCall, configure: Configure) -> None:
    configure(public_base_url="https://links.example")

    response = mint(api, recipients=[{"profileId": "p-1"}])

    assert response["json"]["items"][0]["oneClickUrl"].startswith("https://links.example/u/k1.")


def test_a_service_scope_must_name_an_existing_service(api: ApiCall) -> None:
    response = mint(api, scope="service:svc-nope", recipients=[{"profileId": "p-1"}])

    assert response["statusCode"] == 404


def test_a_service_scope_links_to_that_service(api: ApiCall, signer: LinkSigner) -> None:
    service = api(
        "POST",
        "/v1/services",
        json_body={"name": "news", "label": "News", "publicLabel": "News", "channel": "email"},
    )["json"]["serviceId"]

    response = mint(api, scope=f"service:{service}", recipients=[{"profileId": "p-1"}])

    url = response["json"]["items"][0]["oneClickUrl"]
    assert signer.verify(url.rsplit("/", 1)[1]).scope == Scope(
        kind=ScopeKind.SERVICE, value=service
    )


@pytest.mark.parametrize(
    "body",
    [
        {"recipients": []},
        {"recipients": [{"profileId": f"p-{i}"} for i in range(1001)]},
        {"scope": "channel:fax", "recipients": [{"profileId": "p-1"}]},
        {"recipients": [{"profileId": "p/1"}]},
    ],
)
def test_a_batch_the_api_cannot_mint_is_refused_with_422(
    api: ApiCall, body: dict[str, Any]
) -> None:
    assert mint(api, **body)["statusCode"] == 422
