"""Link URLs, the List-Unsubscribe headers, and where links point."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from consentry.consent.links import base_url, mint, stage_prefix
from consentry.consent.rules import Scope
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.errors import InvalidInputError
from consentry.core.types import DeliveryId, ProfileId

ISSUED = datetime(2026, 11, 1, tzinfo=UTC)
SIGNER = LinkSigner(
    Keyring(keys={"k1": secrets.token_urlsafe(48)}, active="k1"),
    ttl=timedelta(days=90),
    clock=lambda: ISSUED + timedelta(days=1),
)


def test_a_message_gets_three_urls_on_one_token_and_the_rfc_8058_headers() -> None:
    claims = LinkClaims(
        profile_id=ProfileId("p-1"),
        scope=Scope.all(),
        delivery_id=DeliveryId("d-1"),
        issued_at=ISSUED,
    )

    links = mint(SIGNER, "https://example.com/prod", claims)

    token = links.preferences_url.rsplit("/", 1)[1]
    assert links.unsubscribe_url == f"https://example.com/prod/p/{token}/unsubscribe"
    assert links.one_click_url == f"https://example.com/prod/u/{token}"
    assert links.headers == {
        "List-Unsubscribe": f"<{links.one_click_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert links.expires_at == ISSUED + timedelta(days=90)
    assert SIGNER.verify(token) == claims
    assert "p-1" not in token.split(".")[0]


def test_links_are_minted_with_their_issue_time() -> None:
    with pytest.raises(InvalidInputError):
        mint(SIGNER, "https://x", LinkClaims(profile_id=ProfileId("p"), scope=Scope.all()))


@pytest.mark.parametrize(
    ("domain", "stage", "proto", "expected"),
    [
        (
            "abc.execute-api.eu-west-1.amazonaws.com",
            "prod",
            None,
            "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
        ),
        ("prefs.example.com", "prod", "https", "https://prefs.example.com"),
        ("127.0.0.1:3000", "local", None, "http://127.0.0.1:3000"),
        ("prefs.example.com", None, "gopher", "https://prefs.example.com"),
    ],
)
def test_links_point_at_the_api_the_request_came_to(
    domain: str, stage: str | None, proto: str | None, expected: str
) -> None:
    assert (
        base_url(configured="", domain_name=domain, stage=stage, forwarded_proto=proto) == expected
    )


def test_a_configured_public_base_url_wins() -> None:
    url = base_url(
        configured="https://links.example.com/",
        domain_name="abc.execute-api.eu-west-1.amazonaws.com",
        stage="prod",
        forwarded_proto="https",
    )

    assert url == "https://links.example.com"


def test_no_domain_and_no_configured_url_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        base_url(configured="", domain_name=None, stage="prod", forwarded_proto=None)


def test_only_api_gateways_own_domain_carries_the_stage() -> None:
    assert stage_prefix("x.execute-api.us-east-1.amazonaws.com", "v1") == "/v1"
    assert stage_prefix("consent.example.com", "v1") == ""
