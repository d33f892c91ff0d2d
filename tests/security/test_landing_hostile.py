"""The recipient pages are public: whatever a caller sends gets a page below 500 and
changes nothing it should not (issue: no input from outside can cause a 5xx).

Generated requests go to every landing route in-process: paths with good, forged,
expired and garbage tokens, every method, odd headers and content types, bodies of
forms with forged and non-ASCII CSRF tokens, too many fields, binary and base64 that
is not. Each is followed by a snapshot of every table and the bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.consent import profile_store, service_store
from consentry.consent.rules import Scope
from consentry.consent.subscriptions import Confirmation, Service
from consentry.consent.tokens import Keyring, LinkClaims, LinkSigner
from consentry.core.types import Channel, ProfileId, ServiceId
from tests.conftest import REGION
from tests.integration.conftest import lambda_context
from tests.security.conftest import State, proxy_event
from tests.security.forms import (
    FORM,
    METHODS,
    csrf_forms,
    draw_body,
    fields,
    garbage,
    texts,
    too_many_fields,
)

PROFILE = ProfileId("p-hostile")
SENDER = "no-reply@example.com"
KEY_SECRET = "ProfileIdKey"


@pytest.fixture(autouse=True)
def pages(configure: Callable[..., None]) -> None:
    """A service to subscribe to, a profile with addresses, and what signup needs."""
    configure(confirmation_sender=SENDER, profile_id_key_secret=KEY_SECRET)
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=KEY_SECRET, SecretString=secrets.token_urlsafe(48)
    )
    now = datetime.now(UTC)
    service_store.save_service(
        Service(
            service_id=ServiceId("news"),
            name="news",
            label="News",
            public_label="News",
            channel=Channel.EMAIL,
            confirmation=Confirmation.DOUBLE_OPT_IN,
            created_at=now,
            updated_at=now,
        ),
        expected_version=None,
    )
    profile_store.register_profile(PROFILE, {Channel.EMAIL: "hostile@example.com"}, "en")


def landing(event: dict[str, Any]) -> dict[str, Any]:
    from landing.handler import lambda_handler

    response: dict[str, Any] = lambda_handler(event, lambda_context("landing"))
    return response


@pytest.fixture
def tokens(signer: LinkSigner, keyring: Keyring) -> dict[str, str]:
    """A good token, one of an unknown key, an expired one, and one for a service."""
    good = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.all()))
    other = LinkSigner(Keyring(keys={"k9": "z" * 48}, active="k9"), ttl=timedelta(days=90)).sign(
        LinkClaims(profile_id=PROFILE, scope=Scope.all())
    )
    expired = signer.sign(
        LinkClaims(
            profile_id=PROFILE,
            scope=Scope.all(),
            issued_at=datetime.now(UTC) - timedelta(days=400),
        )
    )
    service = signer.sign(LinkClaims(profile_id=PROFILE, scope=Scope.service("news")))
    return {"good": good, "other": other, "expired": expired, "service": service}


link_garbage = garbage("k1")


def paths(tokens: dict[str, str]) -> st.SearchStrategy[str]:
    token = st.one_of(st.sampled_from(list(tokens.values())), link_garbage.map(quote))
    return st.one_of(
        token.map(lambda t: f"/p/{t}"),
        token.map(lambda t: f"/p/{t}/unsubscribe"),
        token.map(lambda t: f"/p/{t}/never"),
        token.map(lambda t: f"/p/{t}/erase"),
        token.map(lambda t: f"/p/{t}/undo"),
        token.map(lambda t: f"/u/{t}"),
        st.sampled_from(["news", "svc-x", "%C3%A9", "a" * 300]).map(lambda s: f"/s/{s}"),
        st.tuples(st.sampled_from(["news", "svc-x"]), token).map(lambda p: f"/s/{p[0]}/{p[1]}"),
        link_garbage.map(lambda t: f"/p/assets/{quote(t)}"),
        link_garbage.map(lambda t: "/" + quote(t)),
    )


csrf = st.one_of(
    st.just("k1.1796191864.%C3%A9"),
    st.from_regex(r"k1\.[0-9]{1,12}\.[A-Za-z0-9_\-]{0,43}", fullmatch=True),
    link_garbage,
)
form_bodies = st.one_of(
    csrf_forms(
        csrf,
        st.dictionaries(st.sampled_from(["channel", "service", "stop_all", "undo", "lang"]), texts),
        fixed="email=a%40example.com&wording=x&",
    ),
    too_many_fields,
    st.just("List-Unsubscribe=One-Click"),
    texts,
)
content_types = st.one_of(
    st.just(FORM),
    st.sampled_from(["multipart/form-data", "multipart/form-data; boundary=", "text/plain", ""]),
    texts,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_gets_a_server_error_or_changes_state(
    data: st.DataObject, tokens: dict[str, str], stored_state: Callable[[], State]
) -> None:
    before = stored_state()
    path = data.draw(paths(tokens))
    method = data.draw(st.sampled_from(METHODS))
    body, encoded = draw_body(data, form_bodies)
    headers = {
        "Content-Type": data.draw(content_types),
        "Accept-Language": data.draw(st.one_of(texts, st.just("fr;q=abc, de;q=2"))),
        "User-Agent": data.draw(texts),
        "X-Forwarded-Proto": data.draw(st.sampled_from(["https", "http", "gopher", ""])),
    }
    query = data.draw(st.one_of(st.none(), st.dictionaries(st.just("lang"), texts)))
    one_click = path.startswith("/u/") and method == "POST"
    valid_token = any(path.startswith(f"/u/{tokens[kind]}") for kind in ("good", "service"))

    response = landing(
        proxy_event(method, path, headers=headers, query=query, body=body, is_base64=encoded)
    )

    assert response["statusCode"] < 500, (method, path, body, response["body"][:300])
    if not (one_click and valid_token and body == "List-Unsubscribe=One-Click"):
        assert stored_state() == before


@pytest.mark.parametrize(
    "path",
    [
        "/s/news",
        "/p/{token}",
        "/p/{token}/undo",
        "/p/{token}/unsubscribe",
        "/p/{token}/never",
        "/p/{token}/erase",
    ],
)
def test_a_non_ascii_csrf_signature_is_a_400_page(
    path: str, tokens: dict[str, str], stored_state: Callable[[], State]
) -> None:
    before = stored_state()
    body = "csrf=k1.1796191864.%C3%A9&email=a%40example.com&undo=x~k1.%C3%A9"

    response = landing(
        proxy_event(
            "POST",
            path.format(token=tokens["good"]),
            headers={"Content-Type": FORM},
            body=body,
        )
    )

    assert response["statusCode"] == 400
    assert response["multiValueHeaders"]["Content-Type"][0].startswith("text/html")
    assert stored_state() == before


@pytest.mark.parametrize("token_kind", ["good", "garbage"])
@pytest.mark.parametrize("route", ["/p/{token}", "/p/{token}/undo", "/u/{token}", "/s/news"])
def test_a_form_of_more_than_200_fields_is_a_400_page(
    route: str, token_kind: str, tokens: dict[str, str], stored_state: Callable[[], State]
) -> None:
    before = stored_state()
    token = tokens["good"] if token_kind == "good" else "garbage"
    body = fields(201)

    response = landing(
        proxy_event("POST", route.format(token=token), headers={"Content-Type": FORM}, body=body)
    )

    assert response["statusCode"] == 400
    assert stored_state() == before
