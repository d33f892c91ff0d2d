"""A mail security scanner fetches every link of a message before the person does,
with GET and HEAD, following redirects or not, some in a real browser: nothing
changes, and tampered or expired links change nothing either."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import NEWSLETTER, LocalStack, altered, confirmation_link

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.browser

SCOPES = {
    "scanner-all": "all",
    "scanner-email": "channel:email",
    "scanner-service": f"service:{NEWSLETTER}",
}


def message_links(links: dict[str, Any]) -> set[str]:
    """The links a minted message carries: its body's and its List-Unsubscribe header's."""
    found = re.fullmatch(r"<(.+)>", links["headers"]["List-Unsubscribe"])
    assert found is not None
    header = found.group(1)
    return {links["preferencesUrl"], links["unsubscribeUrl"], links["oneClickUrl"], header}


def linked_from(url: str) -> set[str]:
    """The links of the page at `url`, as a scanner that follows them one level finds them."""
    body = requests.get(url, timeout=10).text
    return {urljoin(url, href) for href in re.findall(r'href="([^"]+)"', body)}


def state_of(local_stack: LocalStack, profiles: Iterable[str]) -> dict[str, Any]:
    return {profile: local_stack.everything_about(profile) for profile in profiles} | {
        "subscribers": local_stack.api("GET", f"/v1/services/{NEWSLETTER}/subscribers")
    }


def test_fetching_every_link_of_a_message_changes_nothing(
    local_stack: LocalStack, browser: Browser
) -> None:
    urls = set()
    for profile, scope in SCOPES.items():
        local_stack.new_profile(profile, "fr", f"{profile}@example.net")
        local_stack.api(
            "PUT",
            f"/v1/services/{NEWSLETTER}/subscriptions/{profile}",
            {"status": "subscribed", "reason": "scanner test"},
        )
        links = local_stack.links(profile, scope)
        assert links["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        urls |= message_links(links)
    confirm_mail = subscribe_by_form(local_stack, "scanner.visitor@example.net")
    urls.add(confirmation_link(confirm_mail))
    for url in list(urls):
        urls |= linked_from(url)
    before = state_of(local_stack, SCOPES)

    statuses = {}
    for url in sorted(urls):
        for method in ("GET", "HEAD"):
            for follow in (True, False):
                response = requests.request(method, url, allow_redirects=follow, timeout=10)
                statuses[(method, follow, url)] = response.status_code
    context = browser.new_context()
    page = context.new_page()
    for url in sorted(urls):
        page.goto(url)
    context.close()

    assert len(urls) >= 15
    assert all(status < 500 for status in statuses.values()), statuses
    assert state_of(local_stack, SCOPES) == before


def subscribe_by_form(local_stack: LocalStack, address: str) -> dict[str, Any]:
    session = requests.Session()
    form = session.get(f"{local_stack.api_url}/s/{NEWSLETTER}", timeout=10).text
    fields = dict(re.findall(r'name="(csrf|wording|lang)" value="([^"]*)"', form))
    posted = session.post(
        f"{local_stack.api_url}/s/{NEWSLETTER}", data={**fields, "email": address}, timeout=10
    )
    assert posted.status_code == 200
    return local_stack.mail_to(address)


@pytest.mark.parametrize(
    ("locale", "invalid", "expired"),
    [
        ("en-US", "This link is not valid", "This link has expired"),
        ("nl-NL", "Deze link is niet geldig", "Deze link is verlopen"),
        ("fr-FR", "Ce lien n'est pas valide", "Ce lien a expiré"),
        ("de-DE", "Dieser Link ist ungültig", "Dieser Link ist abgelaufen"),
    ],
)
def test_a_tampered_or_expired_link_shows_its_page_in_the_visitors_language(
    local_stack: LocalStack, browser: Browser, locale: str, invalid: str, expired: str
) -> None:
    profile = f"scanner-bad-{locale}"
    local_stack.new_profile(profile, None, f"{profile}@example.net")
    links = local_stack.links(profile)
    forged = links["oneClickUrl"].rsplit("/", 1)[0] + "/k1.eyJwIjoieCJ9.forged"
    before = local_stack.everything_about(profile)
    context = browser.new_context(locale=locale)
    page = context.new_page()

    for url, title in (
        (altered(links["preferencesUrl"]), invalid),
        (forged, invalid),
        (local_stack.expired_link(profile), expired),
    ):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        assert page.locator("html").get_attribute("lang") == locale[:2]
    for url in (altered(links["oneClickUrl"]), forged):
        response = requests.post(
            url,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert response.status_code == 400
    context.close()

    assert local_stack.everything_about(profile) == before
