"""Signing in to the console: the user pool checks the password, the groups give the
role, and the session is a signed cookie that expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from consentry.core.settings import get_settings
from console.revocations import SignedOutSessionModel
from console.session import SESSION_COOKIE, SIGN_IN_COOKIE
from console.wiring import ConsoleWiring
from tests.conftest import REGION
from tests.integration.console_support import (
    PROFILE,
    ConsoleClient,
    UserPool,
    console_event,
    header,
    location,
)


def test_the_sign_in_page_is_a_plain_form_with_a_bound_csrf_token(console: ConsoleClient) -> None:
    response = console.get("/console/sign-in")

    assert response["statusCode"] == 200
    assert 'name="username"' in response["body"]
    assert 'name="password"' in response["body"]
    assert console.csrf
    assert SIGN_IN_COOKIE in console.cookies
    assert "script-src" not in header(response, "Content-Security-Policy")
    assert header(response, "Content-Security-Policy").startswith("default-src 'none'")


def test_an_operator_signs_in_with_a_strict_session_cookie(console: ConsoleClient) -> None:
    response = console.sign_in("ops")

    assert response["statusCode"] == 303
    assert location(response) == "/console"
    cookie = next(
        c for c in response["multiValueHeaders"]["Set-Cookie"] if c.startswith(SESSION_COOKIE)
    )
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/console", "Max-Age=28800"):
        assert attribute in cookie
    dashboard = console.get("/console/")
    assert dashboard["statusCode"] == 200
    assert "ops (operator)" in dashboard["body"]


def test_a_viewer_signs_in_as_a_viewer(console: ConsoleClient) -> None:
    console.sign_in("watcher")

    assert "watcher (viewer)" in console.get("/console/")["body"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("ops", "Wrong-Password-123"), ("no-such-user", "Correct-Horse-Battery-9"), ("", "")],
)
def test_a_failed_sign_in_says_the_same_for_a_wrong_password_and_an_unknown_user(
    console: ConsoleClient, username: str, password: str
) -> None:
    response = console.sign_in(username, password)

    assert response["statusCode"] == 401
    assert "The username or password is not right" in response["body"]
    assert SESSION_COOKIE not in console.cookies


def test_a_user_in_no_console_group_is_not_signed_in(console: ConsoleClient) -> None:
    response = console.sign_in("nobody-in-a-group")

    assert response["statusCode"] == 403
    assert SESSION_COOKIE not in console.cookies


def test_a_sign_in_without_the_forms_csrf_token_is_refused(console: ConsoleClient) -> None:
    console.get("/console/sign-in")

    forged = console.post(
        "/console/sign-in", {"username": "ops", "password": "x", "csrf": "forged"}, csrf=False
    )
    without_cookie = ConsoleClient().post(
        "/console/sign-in", {"username": "ops", "password": "x", "csrf": console.csrf or ""}
    )

    assert forged["statusCode"] == 403
    assert without_cookie["statusCode"] == 403
    assert SESSION_COOKIE not in console.cookies


def test_pages_without_a_session_send_to_the_sign_in_page(console: ConsoleClient) -> None:
    for path in ("/console/", "/console/profiles/p-1", "/console/addresses"):
        response = console.get(path)

        assert response["statusCode"] == 303
        assert location(response) == "/console/sign-in"


def test_a_tampered_session_cookie_is_no_session(console: ConsoleClient) -> None:
    console.sign_in("watcher")
    value = console.cookies[SESSION_COOKIE]
    payload, _, signature = value.partition(".")
    console.cookies[SESSION_COOKIE] = (
        payload.replace(payload[2], "A" if payload[2] != "A" else "B") + "." + signature
    )

    assert console.get("/console/")["statusCode"] == 303


def test_a_session_expires_after_its_hours(user_pool: UserPool) -> None:
    now = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    client = ConsoleClient(wiring=ConsoleWiring(get_settings(), clock=lambda: now[0]))
    client.sign_in("ops")
    assert client.get("/console/")["statusCode"] == 200

    now[0] += timedelta(hours=8, minutes=1)

    assert client.get("/console/")["statusCode"] == 303


def test_signing_out_needs_the_csrf_token_and_removes_the_session(console: ConsoleClient) -> None:
    console.sign_in("ops")
    console.get("/console/")

    refused = console.post("/console/sign-out", {"csrf": "forged"}, csrf=False)
    assert refused["statusCode"] == 403
    assert console.get("/console/")["statusCode"] == 200

    done = console.post("/console/sign-out")

    assert done["statusCode"] == 303
    assert SESSION_COOKIE not in console.cookies
    assert console.get("/console/")["statusCode"] == 303


def test_a_copy_of_the_cookie_stops_working_when_its_session_signs_out(
    console: ConsoleClient,
) -> None:
    console.sign_in("ops")
    console.get("/console/")
    copy = ConsoleClient(cookies=dict(console.cookies))
    other = ConsoleClient()
    other.sign_in("ops")
    assert copy.get("/console/")["statusCode"] == 200

    console.post("/console/sign-out")

    assert copy.get("/console/")["statusCode"] == 303
    assert copy.get(f"/console/profiles/{PROFILE}")["statusCode"] == 303
    assert other.get("/console/")["statusCode"] == 200  # only that session ended


def test_a_signed_out_session_expires_from_the_table_with_its_cookie(
    console: ConsoleClient,
) -> None:
    console.sign_in("ops")
    console.get("/console/")
    before = datetime.now(UTC)

    console.post("/console/sign-out")

    (item,) = list(SignedOutSessionModel.scan())
    lifetime = timedelta(hours=get_settings().console_session_hours)
    assert before + lifetime - timedelta(minutes=1) <= item.expires_at
    assert item.expires_at <= datetime.now(UTC) + lifetime


def test_on_api_gateways_own_domain_the_cookie_path_has_the_stage(
    console: ConsoleClient,
) -> None:
    response = console.send(
        console_event("GET", "/console/sign-in", host="abc123.execute-api.eu-west-1.amazonaws.com")
    )

    cookie = response["multiValueHeaders"]["Set-Cookie"][0]
    assert "Path=/prod/console" in cookie


def test_a_user_with_a_temporary_password_is_told_to_ask_for_a_permanent_one(
    console: ConsoleClient, user_pool: UserPool
) -> None:
    boto3.client("cognito-idp", region_name=REGION).admin_create_user(
        UserPoolId=user_pool.pool_id,
        Username="newcomer",
        TemporaryPassword="Temporary-Password-1",
        MessageAction="SUPPRESS",
    )

    response = console.sign_in("newcomer", "Temporary-Password-1")

    assert response["statusCode"] == 403
    assert "Your password is temporary" in response["body"]
    assert SESSION_COOKIE not in console.cookies
