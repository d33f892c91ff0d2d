"""A recipient opens the preference center from a link, changes channels and
services, saves, sees the confirmation and undoes it."""

import pytest
from playwright.sync_api import expect

from tests.browser.accessibility import blocking
from tests.browser.conftest import LocalStack, Tab

pytestmark = pytest.mark.browser

PROFILE = "browser-preferences"
EMAIL = "preferences.reader@example.com"


def test_a_recipient_saves_channels_and_services_then_undoes(
    local_stack: LocalStack, phone: Tab
) -> None:
    local_stack.new_profile(PROFILE, "en", EMAIL)
    links = local_stack.links(PROFILE)
    page = phone.page

    page.goto(links["preferencesUrl"])
    expect(page.get_by_label("Email")).to_be_checked()
    page.get_by_label("Text messages (SMS)").uncheck()
    page.get_by_label("Our monthly newsletter").check()
    page.get_by_role("button", name="Save my choices").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your choices are saved")
    expect(page.get_by_text("Text messages (SMS): you will receive no more")).to_be_visible()
    expect(page.get_by_text("Our monthly newsletter: almost done")).to_be_visible()
    consent = local_stack.consent(PROFILE)
    assert consent["noLongerContact"]["sms"] is True
    assert local_stack.subscription(PROFILE) == "pending"
    assert local_stack.mail_to(EMAIL)["subject"].startswith("Please confirm")

    page.get_by_role("button", name="Undo").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your change is undone")
    assert local_stack.consent(PROFILE)["noLongerContact"]["sms"] is False
    assert local_stack.subscription(PROFILE) == "unsubscribed"
    events = local_stack.everything_about(PROFILE)["events"]
    assert [e["source"] for e in events] == ["landing"] * 4
    assert [e["reason"] for e in events[2:]] == ["undo", "undo"]
    assert all(e["wordingVersion"] for e in events)
    assert blocking(page) == []
    assert phone.complaints == []


def test_the_keyboard_reaches_everything_in_reading_order(
    local_stack: LocalStack, desktop: Tab
) -> None:
    local_stack.new_profile("browser-keyboard", "en", "keyboard.reader@example.com")
    page = desktop.page
    page.goto(local_stack.links("browser-keyboard")["preferencesUrl"])

    order = []
    for _ in range(15):
        page.keyboard.press("Tab")
        order.append(
            page.evaluate(
                "() => { const e = document.activeElement;"
                " return e.id || e.getAttribute('hreflang') || e.textContent.trim(); }"
            )
        )

    assert order == [
        "Skip to the content",
        "en",
        "nl",
        "fr",
        "de",
        "channel-email",
        "channel-sms",
        "channel-phone",
        "channel-direct_mail",
        "channel-push",
        "service-1",
        "stop-all",
        "Save my choices",
        "Unsubscribe in one step",
        "Never contact me again",
    ]
