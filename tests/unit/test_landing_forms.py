"""CSRF tokens and signed form fields of the landing pages."""

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry.consent.tokens import Keyring
from landing.forms import Form, FormExpiredError, FormGuard, FormRejectedError

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEYRING = Keyring(keys={"k1": secrets.token_urlsafe(48)}, active="k1")


def guard(at: datetime = NOW, keyring: Keyring = KEYRING) -> FormGuard:
    return FormGuard(keyring, clock=lambda: at)


def test_a_token_checks_for_the_page_link_and_wording_it_was_issued_for() -> None:
    token = guard().csrf_token("preferences.html", "link-1", "w1")

    guard().check_csrf(token, "preferences.html", "link-1", "w1")


@pytest.mark.parametrize(
    ("page", "link", "wording"),
    [
        ("never.html", "link-1", "w1"),
        ("preferences.html", "link-2", "w1"),
        ("preferences.html", "link-1", "w2"),
    ],
)
def test_a_token_for_anything_else_is_refused(page: str, link: str, wording: str) -> None:
    token = guard().csrf_token("preferences.html", "link-1", "w1")

    with pytest.raises(FormRejectedError):
        guard().check_csrf(token, page, link, wording)


@given(st.text(max_size=80))
def test_made_up_tokens_are_refused(token: str) -> None:
    with pytest.raises(FormRejectedError):
        guard().check_csrf(token, "preferences.html", "link-1", "w1")


def test_a_token_older_than_a_day_has_expired() -> None:
    token = guard(NOW - timedelta(hours=25)).csrf_token("p.html", "l", "w")

    with pytest.raises(FormExpiredError):
        guard().check_csrf(token, "p.html", "l", "w")


def test_a_token_of_a_retired_key_is_refused_and_of_an_older_key_accepted() -> None:
    old = Keyring(keys={"k1": secrets.token_urlsafe(48)}, active="k1")
    rotated = Keyring(keys={**old.keys, "k2": secrets.token_urlsafe(48)}, active="k2")
    token = guard(keyring=old).csrf_token("p.html", "l", "w")

    guard(keyring=rotated).check_csrf(token, "p.html", "l", "w")
    with pytest.raises(FormRejectedError):
        guard(keyring=Keyring(keys={"k2": rotated.keys["k2"]}, active="k2")).check_csrf(
            token, "p.html", "l", "w"
        )


def test_a_signed_field_comes_back_only_for_its_link_and_unaltered() -> None:
    signed = guard().sign("channel:email>opt_in", "link-1")

    assert guard().unsign(signed, "link-1") == "channel:email>opt_in"
    with pytest.raises(FormRejectedError):
        guard().unsign(signed, "link-2")
    with pytest.raises(FormRejectedError):
        guard().unsign(signed.replace("opt_in", "opt_out"), "link-1")


def test_a_form_body_is_read_with_repeated_fields_in_order() -> None:
    form = Form.parse(b"channel=email&channel=sms&lang=nl&empty=")

    assert form.all("channel") == ["email", "sms"]
    assert (form.first("lang"), form.first("empty"), form.first("missing")) == ("nl", "", None)


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(FormRejectedError):
        Form.parse(b"lang=\xff\xfe")
