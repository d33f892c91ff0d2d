"""Every page in every language, at phone and desktop width: a screenshot for people
to look at (artifacts/screenshots/, kept by CI) and axe-core's verdict, which must
name no serious or critical violation; the browser reports no CSP violation either."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import blocking
from tests.browser.conftest import (
    DESKTOP,
    NEWSLETTER,
    PHONE,
    SCREENSHOTS,
    LocalStack,
    altered,
    confirmation_link,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = pytest.mark.browser

LANGUAGES = ("en", "nl", "fr", "de")
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
PAGES = (
    "preferences",
    "unsubscribe",
    "never",
    "done",
    "undone",
    "subscribe",
    "subscribe-error",
    "subscribe-sent",
    "confirm",
    "confirmed",
    "link-invalid",
    "link-expired",
    "not-found",
)


class Visit:
    """Takes each page's screenshot and axe verdict as the tour reaches it."""

    def __init__(self, page: Page, language: str, viewport: str) -> None:
        self.page = page
        self.language = language
        self.viewport = viewport
        self.seen: list[str] = []
        self.findings: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        assert self.page.locator("html").get_attribute("lang") == self.language, name
        path = SCREENSHOTS / self.language / f"{name}-{self.viewport}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=path, full_page=True)
        self.findings[name] = blocking(self.page)
        self.seen.append(name)

    def submit(self) -> None:
        self.page.locator("main form button[type=submit]").first.click()


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_accessible_and_photographed(
    local_stack: LocalStack, browser: Browser, language: str, viewport: str
) -> None:
    profile = local_stack.new_profile(
        f"browser-tour-{language}-{viewport}", language, f"tour.{language}.{viewport}@example.com"
    )
    links = local_stack.links(profile, "channel:email")
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-GB")
    page = context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if _complaint(m) else None)
    page.on(
        "response",
        lambda r: (
            complaints.append(f"{r.status} {r.url}")
            if r.request.resource_type != "document" and r.status >= 400
            else None
        ),
    )
    visit = Visit(page, language, viewport)

    page.goto(links["preferencesUrl"])
    visit.check("preferences")
    page.goto(links["unsubscribeUrl"])
    visit.check("unsubscribe")
    page.locator("a[href$='/never']").click()
    visit.check("never")
    page.goto(links["unsubscribeUrl"])
    visit.submit()
    expect(page.locator("form.undo")).to_be_visible()
    visit.check("done")
    visit.submit()
    visit.check("undone")

    page.goto(f"{local_stack.api_url}/s/{NEWSLETTER}?lang={language}")
    visit.check("subscribe")
    page.locator("#email").fill("not an address")
    visit.submit()
    visit.check("subscribe-error")
    address = f"tour.visitor.{language}.{viewport}@example.com"
    page.locator("#email").fill(address)
    visit.submit()
    visit.check("subscribe-sent")
    page.goto(confirmation_link(local_stack.mail_to(address)))
    visit.check("confirm")
    visit.submit()
    visit.check("confirmed")

    page.goto(f"{altered(links['preferencesUrl'])}?lang={language}")
    visit.check("link-invalid")
    page.goto(f"{local_stack.expired_link(profile)}?lang={language}")
    visit.check("link-expired")
    page.goto(f"{local_stack.api_url}/p/nothing/here/at-all?lang={language}")
    visit.check("not-found")
    context.close()

    assert tuple(visit.seen) == PAGES
    assert {name: found for name, found in visit.findings.items() if found} == {}
    assert complaints == []


def _complaint(message: ConsoleMessage) -> bool:
    """A console error other than the document's own 4xx (the error pages are 4xx)."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")
