"""The console is reachable by anyone who finds its URL: whatever a caller sends, signed
in as an operator, as a viewer or not at all, gets a page below 500, and a request
without the session's own CSRF token changes nothing (bulk releases, outage
decisions, erasures and lifts included).

Generated requests go to every console route in-process: odd profile and delivery
ids, references and cursors that were never sealed, every method, odd cookies,
content types and bodies (forms with forged CSRF tokens, too many fields, base64 that
is not). Each is followed by a snapshot of every table and the bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import lambda_context
from tests.integration.console_support import PROFILE, ConsoleClient
from tests.security.conftest import State, proxy_event
from tests.security.forms import (
    FORM,
    METHODS,
    csrf_forms,
    draw_body,
    garbage,
    texts,
    too_many_fields,
)

console_garbage = garbage("c1")
identifiers = st.one_of(st.just(PROFILE), st.just("d-console-1"), console_garbage.map(quote))
paths = st.one_of(
    st.sampled_from(
        [
            "/console",
            "/console/",
            "/console/sign-in",
            "/console/sign-out",
            "/console/profiles",
            "/console/search",
            "/console/addresses",
            "/console/addresses/csv",
            "/console/addresses/release",
            "/console/addresses/release/confirm",
            "/console/addresses/bulk-release",
            "/console/addresses/bulk-release/confirm",
            "/console/outages",
            "/console/outages/confirm",
            "/console/outages/decide",
            "/console/erased-addresses",
            "/console/erased-addresses/lift",
            "/console/deliveries",
        ]
    ),
    identifiers.map(lambda i: f"/console/profiles/{i}"),
    identifiers.map(lambda i: f"/console/profiles/{i}/consent"),
    identifiers.map(lambda i: f"/console/profiles/{i}/export"),
    identifiers.map(lambda i: f"/console/profiles/{i}/erase"),
    identifiers.map(lambda i: f"/console/profiles/{i}/erase/confirm"),
    identifiers.map(lambda i: f"/console/deliveries/{i}"),
    identifiers.map(lambda i: f"/console/deliveries/{i}/explain"),
    console_garbage.map(lambda t: f"/console/addresses/view/{quote(t)}"),
    console_garbage.map(lambda t: f"/console/assets/{quote(t)}"),
    console_garbage.map(lambda t: "/console/" + quote(t)),
)
queries = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(
            [
                "channel",
                "status",
                "reason",
                "domain",
                "cursor",
                "profileId",
                "deliveryId",
                "changed",
                "released",
                "remaining",
                "decided",
                "erased",
            ]
        ),
        console_garbage,
        max_size=4,
    ),
)
forms = st.one_of(
    csrf_forms(
        console_garbage,
        st.dictionaries(
            st.sampled_from(
                [
                    "scope",
                    "choice",
                    "reason",
                    "version",
                    "reference",
                    "channel",
                    "address",
                    "username",
                    "password",
                    "decision",
                    "domain",
                    "filter_channel",
                    "filter_status",
                    "filter_reason",
                    "filter_domain",
                ]
            ),
            console_garbage,
        ),
    ),
    too_many_fields,
    texts,
)
cookies = st.one_of(
    st.just("session"),
    st.just("none"),
    console_garbage.map(lambda t: f"consentry_console={t}"),
    st.just("consentry_console=; consentry_console=x; =; ;;"),
)


def console_call(event: dict[str, Any]) -> dict[str, Any]:
    from console.handler import lambda_handler

    response: dict[str, Any] = lambda_handler(event, lambda_context("console"))
    return response


@pytest.fixture(params=["ops", "watcher"])
def session_cookie(request: pytest.FixtureRequest, seeded: ConsoleClient) -> str:
    seeded.sign_in(request.param)
    return "; ".join(f"{name}={value}" for name, value in seeded.cookies.items())


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_gets_a_server_error_or_changes_state(
    data: st.DataObject, session_cookie: str, stored_state: Callable[[], State]
) -> None:
    before = stored_state()
    path = data.draw(paths)
    method = data.draw(st.sampled_from(METHODS))
    body, encoded = draw_body(data, forms)
    cookie = data.draw(cookies)
    headers = {
        "Content-Type": data.draw(st.one_of(st.just(FORM), texts)),
        "X-Forwarded-Proto": data.draw(st.sampled_from(["https", "http", ""])),
    }
    if cookie != "none":
        headers["Cookie"] = session_cookie if cookie == "session" else cookie

    response = console_call(
        proxy_event(
            method, path, headers=headers, query=data.draw(queries), body=body, is_base64=encoded
        )
    )

    assert response["statusCode"] < 500, (method, path, body, response["body"][:300])
    assert stored_state() == before


CHANGES = [
    "/console/addresses/bulk-release",
    "/console/addresses/bulk-release/confirm",
    "/console/outages/confirm",
    "/console/outages/decide",
    "/console/erased-addresses/lift",
    f"/console/profiles/{PROFILE}/erase",
    f"/console/profiles/{PROFILE}/erase/confirm",
]
change_fields = st.dictionaries(
    st.sampled_from(
        [
            "filter_channel",
            "filter_status",
            "filter_reason",
            "filter_domain",
            "channel",
            "domain",
            "decision",
            "address",
            "reason",
        ]
    ),
    st.one_of(
        console_garbage,
        st.sampled_from(["email", "sms", "quarantine", "denylisted", "release", "apply", ""]),
        st.text(min_size=490, max_size=520),
    ),
)


@pytest.fixture
def operator(seeded: ConsoleClient) -> ConsoleClient:
    seeded.sign_in("ops")
    seeded.get("/console/addresses")
    return seeded


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(CHANGES), fields=change_fields)
def test_an_operators_odd_change_forms_are_pages_never_server_errors(
    operator: ConsoleClient, path: str, fields: dict[str, str]
) -> None:
    response = operator.post(path, fields)

    assert response["statusCode"] < 500, (path, fields, response["body"][:300])
